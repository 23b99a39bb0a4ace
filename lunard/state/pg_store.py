"""The state on PostgreSQL (`state_url`): psycopg 3 (sync) with a `psycopg_pool` pool, on
threads (scale-out design §2.1). psycopg has no trio support, so every `call` runs in
`trio.to_thread.run_sync` under a `CapacityLimiter` the size of the pool.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
import trio
from psycopg_pool import ConnectionPool

from lunard.config import redacted_url
from lunard.errors import DataDirError
from lunard.state import pg
from lunard.state.db import DEFAULT_POOL_SIZE, StateStore
from lunard.state.dialect import Conn
from lunard.state.errors import StateError
from lunard.state.migrations import postgres as migrations
from lunard.state.runtime import DirectRuntimeView
from lunard.transactions import SchemaTooNew

log = logging.getLogger(__name__)
T = TypeVar("T")

POOL_TIMEOUT_S = 30.0


class _Reader:
    """The loop thread's own autocommit connection for `read` and `/fn`'s lookups, made on
    first use (and again after a break, by `PgConn`); never used by two threads."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: pg.PgConn | None = None

    def conn(self) -> pg.PgConn:
        if self._conn is None:
            self._conn = pg.connect(self._url, autocommit=True)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


class _ReaderView:
    """`DirectRuntimeView` over the reader's current connection."""

    def __init__(self, reader: _Reader) -> None:
        self._reader = reader

    def target(self, function_id: str) -> Any:
        return DirectRuntimeView(self._reader.conn()).target(function_id)


class PostgresStore(StateStore):
    """The daemon's pool of PostgreSQL connections (`state_pool_size` of them).

    `call` holds one pooled connection for one transaction (committed when `fn` returns,
    rolled back when it raises). `read` and `runtime` use a separate autocommit connection
    on the calling (loop) thread; each answer is read from the database at that moment,
    so no read is stale (one round trip, about 0.15 ms on loopback).
    """

    dialect = "postgres"

    def __init__(self, url: str, pool: ConnectionPool[Any], pool_size: int) -> None:
        self.location = url
        self._pool = pool
        self._limiter = trio.CapacityLimiter(pool_size)
        self._reader = _Reader(url)
        self.runtime = _ReaderView(self._reader)

    @classmethod
    def open_url(cls, url: str, *, pool_size: int = DEFAULT_POOL_SIZE) -> PostgresStore:
        """Connect, migrate (under the advisory lock) and open the pool; DataDirError when
        the database cannot be used."""
        where = redacted_url(url)
        try:
            with psycopg.connect(url, connect_timeout=pg.CONNECT_TIMEOUT_S) as conn:
                migrations.migrate(conn)
            pool: ConnectionPool[Any] = ConnectionPool(
                url,
                min_size=1,
                max_size=pool_size,
                timeout=POOL_TIMEOUT_S,
                kwargs={"connect_timeout": pg.CONNECT_TIMEOUT_S},
                open=False,
            )
            pool.open(wait=True, timeout=POOL_TIMEOUT_S)
        except (psycopg.Error, SchemaTooNew) as exc:
            raise DataDirError(f"cannot use state database {where}: {exc}") from exc
        log.info("state database: PostgreSQL %s (pool of %d)", where, pool_size)
        return cls(url, pool, pool_size)

    def call_sync(self, fn: Callable[[Conn], T]) -> T:
        """Run `fn(conn)` in one transaction on the calling thread."""
        try:
            with self._pool.connection() as raw:
                return fn(pg.PgConn(raw))
        except psycopg.Error as exc:
            raise StateError(f"state database error: {exc}") from exc

    async def call(self, fn: Callable[[Conn], T]) -> T:
        """Run `fn(conn)` in one transaction on a thread; the loop keeps serving."""
        return await trio.to_thread.run_sync(self.call_sync, fn, limiter=self._limiter)

    def read(self, fn: Callable[[Conn], T]) -> T:
        """Run a short read-only `fn(conn)` on the calling (loop) thread, autocommit."""
        return fn(self._reader.conn())

    def close(self) -> None:
        self._reader.close()
        self._pool.close()
