"""The `lunar` command: the root group, its command tree and the entry point.

Click (like sqlite-utils' CLI) gives nested commands, typed options, usage errors with exit
code 2 and shell completion; httpx is the HTTP client the daemon already uses; Rich draws
the tables. Failures are one `Error: ...` line on stderr (exit 1 for the server, the
network or a file; 2 for usage), never a traceback (`LUNAR_DEBUG=1` shows one).
"""

from __future__ import annotations

import os
import sys

import click

from lunard import __version__
from lunard.client.commands import (
    analytics,
    auth,
    code,
    completion,
    executions,
    functions,
    guides,
    invoke,
    logs,
    portable,
    tokens,
    versions,
)
from lunard.client.context import LunarGroup, global_params

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=LunarGroup, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="lunar")
def cli() -> None:
    """Client of a lunard (or Lunar) server: functions, versions, executions, logs.

    Start with 'lunar login' (or set LUNAR_SERVER and LUNAR_TOKEN). The global options
    may also follow the command: 'lunar functions list --output json'. Shell completion:
    'eval "$(lunar completion bash)"' (or zsh, fish).
    """


cli.params[:0] = global_params(hidden=False)

for command in (
    auth.login,
    auth.logout,
    auth.whoami,
    functions.group,
    versions.group,
    executions.group,
    tokens.group,
    invoke.invoke,
    code.deploy_command,
    code.pull,
    portable.export_command,
    portable.import_command,
    logs.logs,
    analytics.group,
    guides.group,
    guides.llms,
    completion.completion,
):
    cli.add_command(command)
cli.add_command(auth.whoami, "status")


def main() -> None:
    """Entry point of the `lunar` console script."""
    try:
        cli.main(prog_name="lunar")
    except Exception as exc:  # a bug: one line, not a traceback, unless asked for
        if os.environ.get("LUNAR_DEBUG"):
            raise
        click.echo(
            f"Error: unexpected {type(exc).__name__}: {exc} (LUNAR_DEBUG=1 shows more)", err=True
        )
        sys.exit(1)
