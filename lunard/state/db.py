"""Opening, checking and migrating the SQLite state file, and running calls off the loop."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import trio

from lunard import transactions
from lunard.errors import DataDirError
from lunard.state.connection import connect
from lunard.state.migrations import MIGRATIONS
from lunard.state.runtime import RuntimeView
from lunard.transactions import SchemaTooNew, transaction

log = logging.getLogger(__name__)
T = TypeVar("T")

STATE_FILE = "lunard.db"


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
    """The daemon's handle on the state file: one connection, used by one thread at a time.

    `call` runs a function with the connection inside a transaction on a worker thread, so
    the event loop never blocks on SQLite. Workers open their own connections (`connect`).

    `runtime` is the in-memory view `/fn` reads (see `RuntimeView`: any commit drops it).
    """

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self._limiter = trio.CapacityLimiter(1)
        # Point reads on the /fn hot path run on the loop thread with their own connection:
        # WAL lets them proceed beside the writer, and each takes tens of microseconds.
        self._reader = connect(path)
        self.runtime = RuntimeView(self._reader)

    @classmethod
    def open(cls, data_dir: Path) -> StateStore:
        """Open (creating if new) and migrate `<data_dir>/lunard.db`; raise DataDirError."""
        path = data_dir / STATE_FILE
        try:
            conn = connect(path, check_same_thread=False)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA quick_check").fetchone()
            migrate(conn)
        except (sqlite3.DatabaseError, SchemaTooNew) as exc:
            raise DataDirError(f"cannot use state database {path}: {exc}") from exc
        return cls(path, conn)

    def call_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(conn)` in one transaction on the calling thread (start-up, tests)."""
        with transaction(self._conn, "BEGIN IMMEDIATE"):
            return fn(self._conn)

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(conn)` in one transaction on a thread; the loop keeps serving."""
        return await trio.to_thread.run_sync(self.call_sync, fn, limiter=self._limiter)

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a short read-only `fn(conn)` directly on the calling (loop) thread."""
        return fn(self._reader)

    def close(self) -> None:
        self._reader.close()
        self._conn.close()
