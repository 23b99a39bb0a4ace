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
from lunard.state.db import DEFAULT_CACHE_TTL, DEFAULT_POOL_SIZE, StateStore
from lunard.state.dialect import Conn
from lunard.state.errors import StateError
from lunard.state.migrations import postgres as migrations
from lunard.state.runtime import CachedRuntimeView, RuntimeTarget, load_target
from lunard.transactions import SchemaTooNew

log = logging.getLogger(__name__)
T = TypeVar("T")

POOL_TIMEOUT_S = 30.0


class _Reader:
    """The loop thread's own autocommit connection for `read` and `/fn`'s lookups, made on
    first use; never used by two threads."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: pg.PgConn | None = None

    def run(self, fn: Callable[[Conn], T]) -> T:
        """`fn(conn)`; once more on a new connection when the first attempt found the old
        one broken (a restarted server, a terminated backend): reads are safe to repeat."""
        if self._conn is None:
            self._conn = pg.connect(self._url, autocommit=True)
        try:
            return fn(self._conn)
        except StateError:
            if not self._conn.raw.broken:
                raise
            log.info("state database connection was lost; reading again on a new one")
            self._conn.close()
            self._conn = pg.connect(self._url, autocommit=True)
            return fn(self._conn)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


class PostgresStore(StateStore):
    """The daemon's pool of PostgreSQL connections (`state_pool_size` of them).

    `call` holds one pooled connection for one transaction (committed when `fn` returns,
    rolled back when it raises); what the transaction announced (`runtime.announce`) is
    evicted from this node's cache once it has committed. `read` uses a separate autocommit
    connection on the calling (loop) thread, read at that moment (one round trip, about
    0.15 ms on loopback). `runtime` (`CachedRuntimeView`) answers `/fn` from memory while
    the state-events actor listens (`lunard.state.events`), and reads through that same
    connection on a miss.
    """

    dialect = "postgres"

    def __init__(
        self,
        url: str,
        pool: ConnectionPool[Any],
        pool_size: int,
        cache_ttl: float = DEFAULT_CACHE_TTL,
    ) -> None:
        self.location = url
        self._pool = pool
        self._limiter = trio.CapacityLimiter(pool_size)
        self._reader = _Reader(url)
        self.runtime = CachedRuntimeView(self._load_target, cache_ttl)

    def _load_target(self, function_id: str) -> RuntimeTarget | None:
        return self._reader.run(lambda conn: load_target(conn, function_id))

    def evict(self, payloads: list[str]) -> None:
        """Drop the cache entries these change notifications (`kind:key`) make untrue."""
        for payload in payloads:
            kind, _, key = payload.partition(":")
            if kind == "function":
                self.runtime.evict(key)

    @classmethod
    def open_url(
        cls,
        url: str,
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
        cache_ttl: float = DEFAULT_CACHE_TTL,
    ) -> PostgresStore:
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
        return cls(url, pool, pool_size, cache_ttl)

    def call_sync(self, fn: Callable[[Conn], T]) -> T:
        """Run `fn(conn)` in one transaction on the calling thread."""
        try:
            with self._pool.connection() as raw:
                conn = pg.PgConn(raw)
                announced: list[str] = []
                conn.announced = announced
                result = fn(conn)
        except psycopg.Error as exc:
            raise StateError(f"state database error: {exc}") from exc
        self.evict(announced)  # committed: this node's next read must see it
        return result

    async def call(self, fn: Callable[[Conn], T]) -> T:
        """Run `fn(conn)` in one transaction on a thread; the loop keeps serving."""
        return await trio.to_thread.run_sync(self.call_sync, fn, limiter=self._limiter)

    def read(self, fn: Callable[[Conn], T]) -> T:
        """Run a short read-only `fn(conn)` on the calling (loop) thread, autocommit."""
        return self._reader.run(fn)

    def close(self) -> None:
        self._reader.close()
        self._pool.close()
