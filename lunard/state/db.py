"""Opening, checking and migrating the SQLite state file, and running calls off the loop."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import trio

from lunard.errors import DataDirError
from lunard.state.connect import connect
from lunard.state.migrations import MIGRATIONS

log = logging.getLogger(__name__)
T = TypeVar("T")

STATE_FILE = "lunard.db"


def migrate(conn: sqlite3.Connection) -> int:
    """Apply pending migrations in order, each in its own transaction; return the version."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)"
    )
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    current = int(row[0])
    known = max(v for v, _ in MIGRATIONS)
    if current > known:
        raise DataDirError(
            f"state database is at schema version {current}, newer than this lunard ({known})"
        )
    for version, sql in MIGRATIONS:
        if version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in sql.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                (version, int(time.time())),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        log.info("applied state migration %d", version)
        current = version
    return current


class StateStore:
    """The daemon's handle on the state file: one connection, used by one thread at a time.

    `call` runs a function with the connection inside a transaction on a worker thread, so
    the event loop never blocks on SQLite. Workers open their own connections (`connect`).
    """

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self._limiter = trio.CapacityLimiter(1)
        # Point reads on the /fn hot path run on the loop thread with their own connection:
        # WAL lets them proceed beside the writer, and each takes tens of microseconds.
        self._reader = connect(path)

    @classmethod
    def open(cls, data_dir: Path) -> StateStore:
        """Open (creating if new) and migrate `<data_dir>/lunard.db`; raise DataDirError."""
        path = data_dir / STATE_FILE
        try:
            conn = connect(path, check_same_thread=False)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA quick_check").fetchone()
            migrate(conn)
        except sqlite3.DatabaseError as exc:
            raise DataDirError(f"cannot use state database {path}: {exc}") from exc
        return cls(path, conn)

    def call_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(conn)` in one transaction on the calling thread (start-up, tests)."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(conn)` in one transaction on a thread; the loop keeps serving."""
        return await trio.to_thread.run_sync(self.call_sync, fn, limiter=self._limiter)

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a short read-only `fn(conn)` directly on the calling (loop) thread."""
        return fn(self._reader)

    def close(self) -> None:
        self._reader.close()
        self._conn.close()
