"""The `lunard` command: `lunard serve` runs the daemon, `lunard analytics` queries its records.

(Worker processes are started by the daemon itself as `python -m lunard.worker`.)"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import trio

from lunard.config import Config, env_name, load_config
from lunard.errors import ConfigError, DataDirError

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
    _add_setting_flags(serve)
    from lunard import analytics_cli

    analytics_cli.add_parser(commands)
    return parser


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=logging.getLevelName("WARNING" if level.upper() == "WARN" else level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def serve(args: argparse.Namespace) -> int:
    from lunard.supervisor import ActorCrashed, run_daemon

    overrides: dict[str, Any] = {f.name: getattr(args, f.name) for f in fields(Config)}
    try:
        config = load_config(file=args.config, overrides=overrides)
    except ConfigError as exc:
        print(f"lunard: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_level)
    try:
        trio.run(run_daemon, config)
    except (ConfigError, DataDirError) as exc:
        log.error("cannot start: %s", exc)
        return 1
    except (ActorCrashed, BaseExceptionGroup) as exc:
        log.error("stopping after a failure: %s", exc)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "analytics":
        from lunard import analytics_cli

        return analytics_cli.main(args)
    return 2
