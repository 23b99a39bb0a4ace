"""The daemon's handle on the state: `StateStore.open` picks the backend, `call` runs off the
loop. SQLite (`SqliteStore`, a WAL file in the data dir) is the embedded default;
`state_url = "postgresql://..."` gives `lunard.state.pg_store.PostgresStore` (psycopg is
imported only then).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import trio

from lunard import transactions
from lunard.errors import DataDirError
from lunard.state.connection import connect
from lunard.state.dialect import Conn
from lunard.state.errors import StateError
from lunard.state.migrations import MIGRATIONS
from lunard.state.runtime import RuntimeView
from lunard.transactions import SchemaTooNew, transaction

log = logging.getLogger(__name__)
T = TypeVar("T")

STATE_FILE = "lunard.db"
DEFAULT_POOL_SIZE = 4
DEFAULT_CACHE_TTL = 5.0  # seconds (config `state_cache_ttl`)


def migrate(conn: sqlite3.Connection) -> int:
    """Apply pending state migrations; return the version. Raises `SchemaTooNew`."""
    return transactions.migrate(
        conn,
        MIGRATIONS,
        what="state database",
        applied_at_type="INTEGER",
        record=lambda version: (
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
            (version, int(time.time())),
        ),
        begin="BEGIN IMMEDIATE",
    )


class StateStore:
    """The interface every backend gives the daemon's actors.

    - `call(fn)`: `fn(conn)` in one transaction on a thread (the loop keeps serving);
      `call_sync(fn)` the same on the calling thread (start-up, tests).
    - `read(fn)`: a short read-only `fn(conn)` on the calling (loop) thread.
    - `runtime`: what `/fn` reads per call (`target(function_id)`).
    - `location`: what workers are handed (`--state`): the file path or the URL.
    - `path`: the SQLite file (backup/restore); StateError on other backends.

    Driver errors raised inside come out as `StateError` (the driver's error as cause).
    """

    dialect = "sqlite"
    location: str
    runtime: Any

    @classmethod
    def open(
        cls,
        data_dir: Path,
        url: str = "",
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
        cache_ttl: float = DEFAULT_CACHE_TTL,
    ) -> StateStore:
        """`<data_dir>/lunard.db` (created if new), or the PostgreSQL database at `url`
        (`/fn`'s cache entries live at most `cache_ttl` s there); migrated. Raises
        DataDirError when it cannot be used."""
        if url:
            from lunard.state.pg_store import PostgresStore

            return PostgresStore.open_url(url, pool_size=pool_size, cache_ttl=cache_ttl)
        return SqliteStore.open_file(data_dir / STATE_FILE)

    @property
    def path(self) -> Path:
        raise StateError(f"the state is not an SQLite file ({self.dialect})")

    def call_sync(self, fn: Callable[[Conn], T]) -> T:
        raise NotImplementedError

    async def call(self, fn: Callable[[Conn], T]) -> T:
        raise NotImplementedError

    def read(self, fn: Callable[[Conn], T]) -> T:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SqliteStore(StateStore):
    """The state file: one writer connection, used by one thread at a time.

    `call` runs a function with the connection inside a transaction on a worker thread, so
    the event loop never blocks on SQLite. Workers open their own connections (`connect`).

    `runtime` is the in-memory view `/fn` reads (see `RuntimeView`: any commit drops it).
    """

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self._path = path
        self.location = str(path)
        self._conn = conn
        self._limiter = trio.CapacityLimiter(1)
        # Point reads on the /fn hot path run on the loop thread with their own connection:
        # WAL lets them proceed beside the writer, and each takes tens of microseconds.
        self._reader = connect(path)
        self.runtime = RuntimeView(self._reader)

    @classmethod
    def open_file(cls, path: Path) -> SqliteStore:
        """Open (creating if new) and migrate the state file; raise DataDirError."""
        try:
            conn = connect(path, check_same_thread=False)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA quick_check").fetchone()
            migrate(conn)
        except (sqlite3.DatabaseError, SchemaTooNew) as exc:
            raise DataDirError(f"cannot use state database {path}: {exc}") from exc
        return cls(path, conn)

    @property
    def path(self) -> Path:
        return self._path

    def call_sync(self, fn: Callable[[Conn], T]) -> T:
        """Run `fn(conn)` in one transaction on the calling thread (start-up, tests)."""
        try:
            with transaction(self._conn, "BEGIN IMMEDIATE"):
                return fn(self._conn)
        except sqlite3.Error as exc:
            raise StateError(f"state database error: {exc}") from exc

    async def call(self, fn: Callable[[Conn], T]) -> T:
        """Run `fn(conn)` in one transaction on a thread; the loop keeps serving."""
        return await trio.to_thread.run_sync(self.call_sync, fn, limiter=self._limiter)

    def read(self, fn: Callable[[Conn], T]) -> T:
        """Run a short read-only `fn(conn)` directly on the calling (loop) thread."""
        try:
            return fn(self._reader)
        except sqlite3.Error as exc:
            raise StateError(f"state database error: {exc}") from exc

    def close(self) -> None:
        self._reader.close()
        self._conn.close()
