"""psycopg 3 (sync) under the state functions: `PgConn`, rows like `sqlite3.Row`, connecting.

Imported only when `state_url` is set (the daemon's store, a worker started with a DSN, or
`lunard migrate-state`), so an SQLite node never loads psycopg. Trio-free: workers use it.
Driver errors come out as `StateError` (the psycopg exception is the cause).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg.rows import RowMaker

from lunard.state.errors import StateError

CONNECT_TIMEOUT_S = 10


class Row:
    """A result row indexed by column name or position, and iterable — like `sqlite3.Row`."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: dict[str, int], values: Sequence[Any]) -> None:
        self._names = names
        self._values = values

    def __getitem__(self, key: int | str) -> Any:
        return self._values[self._names[key] if isinstance(key, str) else key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._names)


def row_factory(cursor: psycopg.Cursor[Any]) -> RowMaker[Row]:
    """psycopg row factory making `Row`s."""
    description = cursor.description or []
    names = {column.name: index for index, column in enumerate(description)}
    return lambda values: Row(names, values)


class PgConn:
    """A psycopg connection as the state functions use it (`execute`, `executemany`).

    The transaction is the caller's: the daemon's pool connection commits when its block
    ends (`PostgresStore.call`); a worker's connection is in autocommit mode. A connection
    made by `connect` (it knows its URL) is made again once it is found broken (a restarted
    or failed-over server): the statement that met the break fails, the next one reconnects.
    """

    dialect = "postgres"

    def __init__(self, raw: psycopg.Connection[Any], url: str = "") -> None:
        self.raw = raw
        self._url = url
        # What this connection's transaction announced (`runtime.announce`), when the
        # daemon's store collects it (a list) to drop those cache entries at commit; None
        # (nothing kept) on a worker's or a tool's connection.
        self.announced: list[str] | None = None

    def execute(self, sql: str, parameters: Any = (), /) -> psycopg.Cursor[Row]:
        self._reconnect_if_broken()
        cursor = self.raw.cursor(row_factory=row_factory)
        try:
            return cursor.execute(sql, parameters or None)
        except psycopg.Error as exc:
            raise StateError(f"state database error: {exc}") from exc

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> None:
        rows = list(parameters)
        if not rows:
            return
        self._reconnect_if_broken()
        try:
            with self.raw.cursor() as cursor:
                cursor.executemany(sql, rows)
        except psycopg.Error as exc:
            raise StateError(f"state database error: {exc}") from exc

    def close(self) -> None:
        self.raw.close()

    def _reconnect_if_broken(self) -> None:
        if self._url and self.raw.broken:
            autocommit = self.raw.autocommit
            self.raw.close()
            self.raw = _connect(self._url, autocommit=autocommit)


def _connect(url: str, *, autocommit: bool) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as exc:
        raise StateError(f"cannot connect to the state database: {exc}") from exc


def connect(url: str, *, autocommit: bool) -> PgConn:
    """One connection to the state database at `url` (reconnecting when broken, see
    `PgConn`); StateError when it cannot be made."""
    return PgConn(_connect(url, autocommit=autocommit), url)
