"""`lunar export ID` and `lunar import FILE`: a function as one portable JSON document.

The document (`GET /api/functions/{id}/export`) holds the name, description, settings,
every version (the active one marked) and the function's KV entries; env vars only with
`--include-env`, since they often hold secrets. `lunar import` creates a new function from
it on the server it talks to, versions and settings as they were.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from lunard.client.context import AppContext, pass_app
from lunard.client.errors import ClientError

SOURCE = click.Path(dir_okay=False, path_type=Path, allow_dash=True)


@click.command("export")
@click.argument("function_id")
@click.option(
    "-o", "--output-file", "output_file", type=SOURCE, help="write to FILE [default: stdout]"
)
@click.option("--include-env", is_flag=True, help="include the env vars (they may be secrets)")
@pass_app
def export_command(
    app: AppContext, function_id: str, output_file: Path | None, include_env: bool
) -> None:
    """Write a function (versions, settings, KV) as a JSON document."""
    document = app.api.export_function(function_id, include_env=include_env)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output_file is None or str(output_file) == "-":
        click.echo(text, nl=False)
        return
    # Env vars may be secrets: the file is readable by its owner only.
    mode = 0o600 if include_env else 0o644
    try:
        fd = os.open(output_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise ClientError(f"cannot write {output_file}: {exc.strerror}") from None
    versions = len(document.get("versions") or [])
    app.out.note(f"exported {document.get('name')} ({versions} versions) to {output_file}")


def _read_document(path: Path) -> Any:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ClientError(f"cannot read {path}: {exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ClientError(f"{path} is not JSON: {exc}") from None


@click.command("import")
@click.argument("file", type=SOURCE)
@pass_app
def import_command(app: AppContext, file: Path) -> None:
    """Create a new function from a document written by 'lunar export' (- for stdin)."""
    document = _read_document(file)
    if not isinstance(document, dict):
        raise ClientError(f"{file} is not an export document (a JSON object)")
    created = app.api.import_function(document)
    if app.out.json:
        app.out.print_json(created)
        return
    active = created.get("active_version") or {}
    app.out.done(
        f"imported {created.get('name')} as {created.get('id')}, "
        f"active version {active.get('version')}"
    )
