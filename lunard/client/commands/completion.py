"""`lunar completion bash|zsh|fish`: print the shell completion script (Click's mechanism).

Equivalent to `_LUNAR_COMPLETE=<shell>_source lunar`; add to the shell's start-up file::

    eval "$(lunar completion bash)"          # ~/.bashrc
    eval "$(lunar completion zsh)"           # ~/.zshrc
    lunar completion fish | source           # ~/.config/fish/config.fish
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_LUNAR_COMPLETE"


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the completion script for SHELL (eval it in your shell's rc file)."""
    cls = get_completion_class(shell)
    if cls is None:  # the choices above are all built into Click
        raise click.UsageError(f"no completion support for {shell}")
    root = ctx.find_root().command
    click.echo(cls(root, {}, "lunar", COMPLETE_VAR).source())
