"""The `lunard` command: `lunard serve` runs the daemon, `lunard check-config` validates a
configuration and shows where each value comes from, `lunard analytics` queries its records,
`lunard migrate-state` copies a stopped node's SQLite state and DuckDB records to PostgreSQL.

(Worker processes are started by the daemon itself as `python -m lunard.worker`.)"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import fields
from functools import partial
from pathlib import Path
from typing import Any

import trio

from lunard.config import Config, env_name, load_config_with_sources, redacted_url
from lunard.errors import ConfigError
from lunard.logs import configure_logging as _configure_logging

log = logging.getLogger("lunard")


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """One `--kebab-name` flag per Config field; flags win over everything else."""
    for f in fields(Config):
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            default=None,
            metavar=env_name(f.name),
            help=f"{f.metadata.get('help', '')} (env {env_name(f.name)})",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lunard", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the daemon")
    serve.add_argument("--config", type=Path, default=None, help="TOML configuration file")
    serve.add_argument(
        "--ready-fd",
        type=int,
        default=None,
        metavar="N",
        help=(
            "once ready (when /readyz would answer 200), write the URL served and a newline "
            "to the inherited file descriptor N, then close it; for supervisors and tests "
            "that wait without polling"
        ),
    )
    _add_setting_flags(serve)
    check = commands.add_parser(
        "check-config",
        help="validate a configuration and print the effective values with their sources",
        description=(
            "Validate the configuration `lunard serve` would run with (the same --config FILE, "
            "environment and flags) and print every effective value with its source: default, "
            "file, env or flag. Exit 0 when valid; 2 with a message naming the setting when not."
        ),
    )
    check.add_argument("--config", type=Path, default=None, help="TOML configuration file")
    check.add_argument(
        "--json", action="store_true", help="print {setting: {value, source}} as JSON"
    )
    _add_setting_flags(check)
    from lunard.records import cli as analytics_cli

    analytics_cli.add_parser(commands)
    from lunard import backup_cli

    backup_cli.add_parser(commands)
    from lunard import migrate_state

    migrate_state.add_parser(commands)
    return parser


def configure_logging(level: str, log_format: str = "text") -> None:
    """Log to stderr at `level`, as text lines or one JSON object per line."""
    _configure_logging(level, log_format)


def _load(args: argparse.Namespace) -> tuple[Config, dict[str, str]] | None:
    """The configuration from args.config, the environment and the flags; None if invalid."""
    overrides: dict[str, Any] = {f.name: getattr(args, f.name) for f in fields(Config)}
    try:
        return load_config_with_sources(file=args.config, overrides=overrides)
    except ConfigError as exc:
        print(f"lunard: configuration error: {exc}", file=sys.stderr)
        return None


def _plain(value: Any) -> Any:
    """A setting's value as TOML/JSON sees it (paths as strings, no path as "")."""
    if value is None:
        return ""
    if isinstance(value, Path):
        return str(value)
    return value


def _source_note(name: str, source: str) -> str:
    if source == "env":
        return f"env {env_name(name)}"
    if source == "flag":
        return "flag --" + name.replace("_", "-")
    return source


def check_config(args: argparse.Namespace) -> int:
    """Print the effective settings with their sources; 0 if valid, 2 if not."""
    loaded = _load(args)
    if loaded is None:
        return 2
    config, sources = loaded
    values = {f.name: _plain(getattr(config, f.name)) for f in fields(Config)}
    if values["api_key"]:
        values["api_key"] = "********"  # never print the secret
    for url in ("state_url", "records_url"):  # nor a password inside a URL
        values[url] = redacted_url(values[url])
    if args.json:
        settings = {name: {"value": v, "source": sources[name]} for name, v in values.items()}
        print(json.dumps({"valid": True, "settings": settings}, indent=2))
        return 0
    where = f"config file {args.config}" if args.config else "no config file"
    print(f"# lunard configuration is valid ({where}); effective values and their sources:")
    rows = [
        (f"{name} = {json.dumps(value)}", _source_note(name, sources[name]))
        for name, value in values.items()
    ]
    width = max(len(left) for left, _ in rows)
    for left, note in rows:
        print(f"{left.ljust(width)}  # {note}")
    return 0


def _ready_fd_error(fd: int | None) -> str | None:
    """Why `--ready-fd` cannot be used, or None."""
    if fd is None:
        return None
    if fd < 0:
        return f"--ready-fd {fd}: must be a file descriptor number (>= 0)"
    try:
        os.fstat(fd)
    except OSError as exc:
        return f"--ready-fd {fd}: not an open file descriptor ({exc.strerror})"
    return None


def serve(args: argparse.Namespace) -> int:
    """Run the daemon; exit 0 after a graceful stop, 1 on a failure, 2 for an invalid
    configuration, 3 when worker processes cannot start (WorkerBootError)."""
    from lunard.stop_status import stop_status
    from lunard.supervisor import run_daemon

    loaded = _load(args)
    if loaded is None:
        return 2
    problem = _ready_fd_error(args.ready_fd)
    if problem is not None:
        print(f"lunard: {problem}", file=sys.stderr)
        return 2
    config = loaded[0]
    configure_logging(config.log_level, config.log_format)
    try:
        trio.run(partial(run_daemon, config, ready_fd=args.ready_fd))
    except (Exception, KeyboardInterrupt, BaseExceptionGroup) as exc:
        status = stop_status(exc)
        for message in status.messages:
            log.error("%s", message)
        if status.exit_code == 0:
            log.info("Stopped by an interrupt")
        return status.exit_code
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "check-config":
        return check_config(args)
    if args.command == "analytics":
        from lunard.records import cli as analytics_cli

        return analytics_cli.main(args)
    if args.command == "migrate-state":
        from lunard import migrate_state

        return migrate_state.main(args)
    if args.command in ("backup", "restore"):
        from lunard import backup_cli

        return backup_cli.main(args)
    return 2
