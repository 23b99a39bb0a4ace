"""`lunard backup` and `lunard restore`: the operator's commands around `lunard.backup`.

- `lunard backup OUT_DIR [--server URL] [--token KEY]` asks a running daemon (through
  `POST /api/admin/backup`, admin key only) to write a backup into OUT_DIR, a new or empty
  directory on the daemon's machine (a relative path is taken from the current directory,
  so run it on that machine, or give an absolute path).
- `lunard restore BACKUP_DIR --data-dir DIR [--force]` checks the backup's checksums and
  copies it into a stopped daemon's data dir; existing databases are kept unless `--force`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from lunard.errors import LunardError

DEFAULT_SERVER = "http://localhost:3000"
# A backup copies whole database files; give a large one time.
BACKUP_TIMEOUT = httpx.Timeout(3600.0, connect=10.0)


class CliError(Exception):
    """A failure to report on stderr with exit code 1."""


def add_parser(commands: Any) -> None:
    """Add `backup` and `restore` to the `lunard` parser's subcommands."""
    backup = commands.add_parser("backup", help="back up a running daemon's data")
    backup.add_argument("out_dir", type=Path, help="new or empty directory on the daemon's host")
    backup.add_argument(
        "--server",
        default=None,
        help=f"daemon URL (default $LUNAR_SERVER or {DEFAULT_SERVER})",
    )
    backup.add_argument(
        "--token", default=None, help="the admin key (default $API_KEY, then $LUNAR_TOKEN)"
    )
    restore = commands.add_parser(
        "restore", help="restore a backup into a stopped daemon's data dir"
    )
    restore.add_argument("backup_dir", type=Path)
    restore.add_argument(
        "--data-dir", type=Path, required=True, help="the data dir to restore into"
    )
    restore.add_argument(
        "--force", action="store_true", help="replace the databases already in --data-dir"
    )


def main(args: argparse.Namespace) -> int:
    """Run `lunard backup` or `lunard restore`; 0 on success, 1 with a message on stderr."""
    try:
        if args.command == "backup":
            _backup(args)
        else:
            _restore(args)
    except (CliError, LunardError) as exc:
        print(f"lunard {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


def _backup(args: argparse.Namespace) -> None:
    server = (args.server or os.environ.get("LUNAR_SERVER") or DEFAULT_SERVER).rstrip("/")
    token = args.token or os.environ.get("API_KEY") or os.environ.get("LUNAR_TOKEN")
    if not token:
        raise CliError("the admin key is needed: pass --token or set API_KEY")
    target = args.out_dir.expanduser().absolute()
    try:
        response = httpx.post(
            f"{server}/api/admin/backup",
            json={"path": str(target)},
            headers={"Authorization": f"Bearer {token}"},
            timeout=BACKUP_TIMEOUT,
        )
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach {server}: {exc}") from None
    body = _json(response)
    if response.status_code >= 400:
        raise CliError(f"{server} answered {response.status_code}: {body.get('error', body)}")
    files = body["manifest"]["files"]
    total = sum(entry["size"] for entry in files.values())
    print(f"backup written to {target}: {', '.join(files)} ({total} bytes)")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise CliError(
            f"{response.request.url} answered {response.status_code} without JSON "
            "(is --server the URL of a lunard daemon?)"
        )
    return body


def _restore(args: argparse.Namespace) -> None:
    from lunard import backup

    names = backup.restore(args.backup_dir, args.data_dir, force=args.force)
    print(f"restored {', '.join(names)} into {args.data_dir}; start the daemon there")
