"""Where results go: the API's JSON (`--output json`) or Rich tables (the default).

JSON mode prints exactly what the server answered (indented), nothing else, on stdout;
notes meant for the person go to stderr in both modes, so `--output json` output can be
piped into `jq`. Rich is imported only when something is drawn.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

View = Callable[[Any], Iterable["RenderableType"]]
FORMATS = ("table", "json")
# Piped table output is read by grep and friends: do not wrap it at 80 columns.
PIPE_WIDTH = 200


def fmt_time(unix: Any) -> str:
    """Unix seconds as local `YYYY-MM-DD HH:MM:SS`; `-` when absent."""
    if not isinstance(unix, int | float):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(unix))


def fmt_ms(value: Any) -> str:
    """A duration in milliseconds, `-` when absent."""
    return "-" if value is None else f"{value} ms"


def _console(stderr: bool) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or "COLUMNS" in os.environ else PIPE_WIDTH
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


class Output:
    """The chosen output format and the consoles it draws on."""

    def __init__(self, fmt: str = "table") -> None:
        self.format = fmt

    @property
    def json(self) -> bool:
        """Whether raw JSON was asked for."""
        return self.format == "json"

    @cached_property
    def console(self) -> Console:
        """Rich console on stdout."""
        return _console(stderr=False)

    @cached_property
    def err_console(self) -> Console:
        """Rich console on stderr."""
        return _console(stderr=True)

    def emit(self, data: Any, view: View) -> None:
        """The API's JSON, or `view(data)` drawn as tables and text."""
        if self.json:
            self.print_json(data)
            return
        for renderable in view(data):
            self.console.print(renderable, markup=False)  # user data is never markup

    def print_json(self, data: Any, *, compact: bool = False) -> None:
        """One JSON document on stdout (one line when `compact`, for streams)."""
        indent = None if compact else 2
        click.echo(json.dumps(data, indent=indent, ensure_ascii=False))
        sys.stdout.flush()

    def done(self, message: str) -> None:
        """Confirm a status-only action in table mode (JSON mode prints the API's nothing)."""
        if not self.json:
            self.console.print(message, markup=False)

    def note(self, message: str) -> None:
        """A line for the person, on stderr, in both modes."""
        click.echo(message, err=True)
