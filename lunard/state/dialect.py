"""What the state queries need to know about their connection: which SQL dialect it speaks.

The state functions take a `Conn`: a `sqlite3.Connection` (the embedded default) or a
`lunard.state.pg.PgConn` (PostgreSQL). Each query is written once per dialect (`Sql`) and
picked by `Sql.of(conn)`; nothing rewrites SQL at run time. Trio-free and psycopg-free
(workers import it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol


class Cursor(Protocol):
    """The part of a DB-API cursor the state functions use (both drivers have it)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """A state connection: `sqlite3.Connection` or `PgConn` (rows index by name and position)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Any: ...

    def close(self) -> None: ...


def is_postgres(conn: Conn) -> bool:
    """Whether `conn` talks to PostgreSQL (anything but a sqlite3 connection)."""
    return not isinstance(conn, sqlite3.Connection)


def placeholder(conn: Conn) -> str:
    """The parameter mark of the connection's driver: `?` (sqlite3) or `%s` (psycopg)."""
    return "%s" if is_postgres(conn) else "?"


@dataclass(frozen=True, slots=True)
class Sql:
    """One statement in both dialects."""

    sqlite: str
    postgres: str

    def of(self, conn: Conn) -> str:
        return self.postgres if is_postgres(conn) else self.sqlite


def as_bytes(value: str | bytes) -> bytes:
    """Text (invalid bytes as surrogate escapes, as lupa decodes them) back to its bytes."""
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")


def as_text(value: str | bytes) -> str | bytes:
    """A stored key/value as SQLite gives it back: text when valid UTF-8, else the bytes.

    PostgreSQL keeps env and KV as BYTEA; this makes its rows look like SQLite's TEXT/BLOB
    mix, so the API shows the same thing on both backends.
    """
    if isinstance(value, str):
        return value
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        return bytes(value)


def stored(conn: Conn, value: str | bytes) -> str | bytes:
    """A key/value as the connection's table stores it: unchanged on SQLite, bytes on PG."""
    return as_bytes(value) if is_postgres(conn) else value


def loaded(conn: Conn, value: str | bytes) -> Any:
    """A stored key/value read back as the API shows it (see `as_text`)."""
    return as_text(value) if is_postgres(conn) else value


def shown(value: str | bytes) -> str:
    """A stored key/value as the API shows it: text, invalid UTF-8 bytes as U+FFFD (the rule
    of `display_text` and of lunard's JSON encoder); the stored bytes are not changed."""
    return value if isinstance(value, str) else bytes(value).decode("utf-8", "replace")
