"""`lunar deploy FILE` and `lunar pull ID`: keep functions in local files."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lunard.client import views
from lunard.client.context import AppContext, pass_app
from lunard.client.deploy import DeployResult, deploy
from lunard.client.errors import ClientError

SOURCE = click.Path(exists=True, dir_okay=False, path_type=Path, allow_dash=True)


def _read_code(path: Path) -> str:
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="FILE") from None


def _summary(result: DeployResult) -> list[str]:
    data = result.to_json()
    what = {
        "created": f"created {data['name']} ({data['id']}), version {data['version']}",
        "updated": f"updated {data['name']} ({data['id']}), "
        + (f"new version {data['version']}" if result.new_version else "same code"),
        "unchanged": f"unchanged {data['name']} ({data['id']}), version {data['version']}",
    }[result.action]
    return [what, result.url]


@click.command("deploy")
@click.argument("file", type=SOURCE)
@click.option("--name", help="function name [default: the file name without .lua]")
@click.option("--id", "function_id", help="update this function (its name stays unless --name)")
@click.option("--description", help="set the description as well")
@pass_app
def deploy_command(
    app: AppContext, file: Path, name: str | None, function_id: str | None, description: str | None
) -> None:
    """Create or update a function from FILE; a new version only when the code changed."""
    if name is None and function_id is None:
        if str(file) == "-":
            raise click.UsageError("reading the code from stdin: give --name or --id")
        name = file.stem
    result = deploy(
        app.api, _read_code(file), name=name, function_id=function_id, description=description
    )
    app.out.emit(result.to_json(), lambda _: _summary(result))


@click.command("pull")
@click.argument("function_id")
@click.option(
    "-o",
    "--out",
    "target",
    type=click.Path(dir_okay=False, path_type=Path),
    help="write to this file [default: stdout]",
)
@click.option("--version", "number", help="a version number instead of the active one")
@pass_app
def pull(app: AppContext, function_id: str, target: Path | None, number: str | None) -> None:
    """Print (or write to a file) the code of a function's active version."""
    if number is not None:
        version = app.api.get_version(function_id, number)
    else:
        version = (app.api.get_function(function_id) or {}).get("active_version") or {}
    code = str(version.get("code") or "")
    if target is None:
        if app.out.json:
            app.out.emit(version, views.version_detail)
        else:
            click.echo(code, nl=not code.endswith("\n"))
        return
    try:
        target.write_text(code, encoding="utf-8")
    except OSError as exc:
        raise ClientError(f"cannot write {target}: {exc.strerror or exc}") from None
    app.out.note(f"wrote version {version.get('version')} of {function_id} to {target}")
