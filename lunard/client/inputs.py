"""Option value types: `-` / `@file` sources, `KEY=VALUE`, `Name:Value`, durations.

A bad value is a Click usage error (exit code 2) naming the option, raised while the
command line is parsed, before anything is sent to the server.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def read_source(value: str) -> bytes:
    """`-` is stdin, `@path` a file's content, anything else the value itself (UTF-8)."""
    if value == "-":
        return sys.stdin.buffer.read()
    if value.startswith("@") and len(value) > 1:
        return Path(value[1:]).expanduser().read_bytes()
    return value.encode()


class Source(click.ParamType):
    """Text given inline, as `-` (stdin) or as `@file` (httpie's convention)."""

    name = "TEXT|-|@FILE"

    def __init__(self, *, binary: bool = False) -> None:
        self.binary = binary

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            raw = read_source(value)
        except OSError as exc:
            self.fail(f"cannot read {value[1:]}: {exc.strerror or exc}", param, ctx)
        if self.binary:
            return raw
        try:
            return raw.decode()
        except UnicodeDecodeError:
            self.fail(f"{value!r} is not UTF-8 text", param, ctx)


class Pair(click.ParamType):
    """`KEY<sep>VALUE`, split at the first separator; the key must not be empty."""

    def __init__(self, separator: str, metavar: str) -> None:
        self.separator = separator
        self.name = metavar

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        key, sep, rest = str(value).partition(self.separator)
        if not sep or not key.strip():
            self.fail(f"expected {self.name}, got {value!r}", param, ctx)
        if self.separator == ":":
            return key.strip(), rest.strip()
        return key, rest


class Duration(click.ParamType):
    """`30s`, `10m`, `2h`, `7d` or plain seconds, as a number of seconds."""

    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int | float):
            return float(value)
        match = _DURATION.fullmatch(str(value).strip())
        if match is None:
            self.fail(f"expected a duration such as 30s, 10m, 2h or 7d, got {value!r}", param, ctx)
        return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class Limit:
    """A given limit: a number, or `value=None` for "no limit" (distinct from not given)."""

    value: int | None


class LimitType(click.ParamType):
    """A non-negative integer, or `none` (for example: no concurrency cap)."""

    name = "N|none"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, Limit):
            return value
        text = str(value).strip().lower()
        if text in ("none", "null", "unlimited"):
            return Limit(None)
        if not text.isdigit():
            self.fail(f"expected a non-negative integer or 'none', got {value!r}", param, ctx)
        return Limit(int(text))


TEXT_SOURCE = Source()
BYTES_SOURCE = Source(binary=True)
KEY_VALUE = Pair("=", "KEY=VALUE")
HEADER = Pair(":", "NAME:VALUE")
DURATION = Duration()
LIMIT = LimitType()
