"""Opening a connection to the state: trio-free, so worker processes can use it.

A state *location* is an SQLite file path (the embedded default) or a PostgreSQL URL
(`state_url`); psycopg is imported only for the latter.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from lunard.state.errors import StateError

if TYPE_CHECKING:
    from lunard.state.dialect import Conn

T = TypeVar("T")

URL_SCHEMES = ("postgresql://", "postgres://")

BUSY_TIMEOUT_MS = 5000


def connect(path: str | Path, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """A connection with the pragmas every user of the state file needs (daemon and workers)."""
    conn = sqlite3.connect(
        str(path),
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,  # autocommit; transactions are explicit (see StateStore.call)
        check_same_thread=check_same_thread,
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def is_state_url(location: str | Path) -> bool:
    """Whether a state location is a PostgreSQL URL (else it is an SQLite file path)."""
    return isinstance(location, str) and location.startswith(URL_SCHEMES)


def connect_location(location: str) -> Conn:
    """A worker's connection for its whole life: SQLite, or PostgreSQL in autocommit mode
    (each `kv`/`env` statement commits on its own, as on SQLite)."""
    if is_state_url(location):
        from lunard.state import pg

        return pg.connect(location, autocommit=True)
    return connect(location)


def read_file(path: Path, fn: Callable[[sqlite3.Connection], T]) -> T:
    """`fn` over a read-only connection to a state file, closed after; StateError on failure
    (for tools that read a stopped node's file, like `lunard analytics`)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            conn.row_factory = sqlite3.Row
            return fn(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StateError(f"cannot read state database {path}: {exc}") from exc
