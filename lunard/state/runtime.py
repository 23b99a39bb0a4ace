"""The one read `/fn` needs: a function, its active version and its env vars, and the
in-memory views of it that spare `/fn` its queries per call: `RuntimeView` on SQLite (any
commit drops it), `CachedRuntimeView` on PostgreSQL (each entry dropped by the NOTIFY of its
change, issue 15 item 2; `announce` sends those notifications).

Trio-free and psycopg-free (workers import `lunard.state` modules)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from lunard.state.dialect import Conn, Sql, is_postgres, loaded

_TARGET = Sql(
    "SELECT f.name, f.disabled, f.save_response, f.max_concurrency, "
    "v.id AS vid, v.version, v.code "
    "FROM functions f LEFT JOIN function_versions v "
    "ON v.function_id = f.id AND v.is_active = 1 WHERE f.id = ?",
    # One round trip on PostgreSQL (each costs ~0.15 ms): the env rides along as two
    # arrays in key order.
    "SELECT f.name, f.disabled, f.save_response, f.max_concurrency, "
    "v.id AS vid, v.version, v.code, "
    "ARRAY(SELECT e.key FROM env_vars e WHERE e.function_id = f.id ORDER BY e.key) "
    "AS env_keys, "
    "ARRAY(SELECT e.value FROM env_vars e WHERE e.function_id = f.id ORDER BY e.key) "
    "AS env_values "
    "FROM functions f LEFT JOIN function_versions v "
    "ON v.function_id = f.id AND v.is_active = 1 WHERE f.id = %s",
)
_EXISTS = Sql(
    "SELECT 1 FROM functions WHERE id = ?",
    "SELECT 1 FROM functions WHERE id = %s",
)
_ENV = Sql(
    "SELECT key, value FROM env_vars WHERE function_id = ?",
    "SELECT key, value FROM env_vars WHERE function_id = %s",
)

# The PostgreSQL channel every node LISTENs on (`lunard.state.events`). A payload is
# `<kind>:<key>`: `function:<id>` (what `/fn` runs changed), `schedule:<id>` (the scheduler
# must re-read it), `token:<sha256>` / `session:<sha256>` (an API token revoked, a session
# ended).
CHANNEL = "lunard_state"
_NOTIFY = "SELECT pg_notify('" + CHANNEL + "', %s)"


def announce(conn: Conn, kind: str, key: str) -> None:
    """Tell every node, once this transaction commits, that `kind:key` changed.

    PostgreSQL only (`pg_notify` in the writer's own transaction, so no node hears of a
    change before it can read it, and a rolled-back write says nothing); nothing on SQLite,
    where `RuntimeView` notices every commit itself. A connection that keeps a list in
    `announced` (the daemon's `PgConn`) also gets the payload, so the writing node can drop
    its own cache entries at commit without waiting for its listener."""
    if not is_postgres(conn):
        return
    payload = f"{kind}:{key}"
    conn.execute(_NOTIFY, (payload,))
    announced = getattr(conn, "announced", None)
    if announced is not None:
        announced.append(payload)


@dataclass(frozen=True, slots=True)
class RuntimeTarget:
    """What the runtime route needs to dispatch a call (None fields: nothing active)."""

    function_id: str
    name: str
    disabled: bool
    save_response: bool
    version_id: str | None
    version_number: int | None
    code: str | None
    env: dict[str, str]
    max_concurrency: int | None = None  # workers its calls may hold at once; None: no cap


def load_target(conn: Conn, function_id: str) -> RuntimeTarget | None:
    """The function with its active version and env vars, or None if it does not exist."""
    row = conn.execute(_TARGET.of(conn), (function_id,)).fetchone()
    if row is None:
        return None
    if is_postgres(conn):
        pairs = zip(row["env_keys"], row["env_values"], strict=True)
        env = {loaded(conn, key): loaded(conn, value) for key, value in pairs}
    else:
        env = load_env(conn, function_id)
    return RuntimeTarget(
        function_id=function_id,
        name=row["name"],
        disabled=bool(row["disabled"]),
        save_response=bool(row["save_response"]),
        version_id=row["vid"],
        version_number=row["version"],
        code=row["code"],
        env=env,
        max_concurrency=row["max_concurrency"],
    )


def function_exists(conn: Conn, function_id: str) -> bool:
    """Whether a function with this id exists."""
    row = conn.execute(_EXISTS.of(conn), (function_id,)).fetchone()
    return row is not None


def load_env(conn: Conn, function_id: str) -> dict[str, str]:
    """The function's env vars (rows outlive a deleted function, like upstream)."""
    rows = conn.execute(_ENV.of(conn), (function_id,))
    if is_postgres(conn):
        return {loaded(conn, key): loaded(conn, value) for key, value in rows}
    return dict(rows.fetchall())


class RuntimeView:
    """What `/fn` needs per function, kept in memory until the state file changes.

    Every write, whoever makes it, is noticed before the next lookup answers: SQLite's
    `PRAGMA data_version` on the loop's reader connection changes whenever another
    connection commits — the daemon's writer (`StateStore.call`, every API write), a
    worker (`env.set`, `kv.set`), or anything else — and a new value drops the whole view.
    A write commits before the request that made it is answered, so the very next call
    sees it; an entry read while a write was committing is stored under the old value and
    dropped at the next lookup. The check costs one PRAGMA (about 2 µs) instead of the two
    queries of `load_target`; a handler that writes KV on every call makes every lookup a
    miss, which costs what `load_target` always did.

    Unknown ids are not cached (a caller chooses them; the view stays as large as the
    functions table). Lookups run on the loop thread only, like `StateStore.read`.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._data_version = -1
        self._targets: dict[str, RuntimeTarget] = {}

    def target(self, function_id: str) -> RuntimeTarget | None:
        """`load_target`'s answer, from memory when nothing was committed since it was read."""
        data_version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if data_version != self._data_version:
            self._targets = {}
            self._data_version = data_version
        cached = self._targets.get(function_id)
        if cached is None:
            cached = load_target(self._conn, function_id)
            if cached is not None:
                self._targets[function_id] = cached
        return cached


class DirectRuntimeView:
    """`RuntimeView`'s interface without a cache: every lookup is `load_target` on the given
    connection, read now."""

    def __init__(self, conn: Conn) -> None:
        self._conn = conn

    def target(self, function_id: str) -> RuntimeTarget | None:
        """`load_target`'s answer, read now."""
        return load_target(self._conn, function_id)


MAX_CACHED_TARGETS = 10_000


class CachedRuntimeView:
    """What `/fn` needs per function on PostgreSQL, kept in memory while it is known true.

    An entry is read with `load(function_id)` on a miss and served until one of:
    - `evict(function_id)`: a `function:<id>` notification (`lunard.state.events`), or this
      node's own write at its commit (`PostgresStore.call`);
    - `ttl` seconds have passed since it was read (`state_cache_ttl`, a backstop for a
      change nobody announced);
    - `suspend()`: the listener lost its connection, so notifications may be missed; until
      `resume()` (listening again) every lookup reads the database and nothing is kept.

    It starts suspended: without a listener (tools, tests) it is a plain read-through.
    Lookups and evictions run on the loop thread; an eviction made on another thread (a
    commit) while a miss is being read bumps `_generation`, and that read's answer is then
    returned but not kept. Unknown ids are not cached; at most `MAX_CACHED_TARGETS` entries
    are kept (the oldest read goes first).
    """

    def __init__(
        self,
        load: Callable[[str], RuntimeTarget | None],
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, RuntimeTarget]] = {}
        self._generation = 0
        self.enabled = False
        # Set by the listener (`StateEvents`): handles notifications that already arrived,
        # so a change committed elsewhere before this request is seen by this very lookup.
        self.before_lookup: Callable[[], None] | None = None

    def target(self, function_id: str) -> RuntimeTarget | None:
        """`load_target`'s answer: from memory while the entry is known true, else read."""
        if self.before_lookup is not None:
            self.before_lookup()
        now = self._clock()
        entry = self._entries.get(function_id)
        if entry is not None and now - entry[0] < self._ttl and self.enabled:
            return entry[1]
        generation = self._generation
        target = self._load(function_id)
        if target is not None and self.enabled and generation == self._generation:
            self._entries.pop(function_id, None)
            self._entries[function_id] = (now, target)
            if len(self._entries) > MAX_CACHED_TARGETS:
                del self._entries[next(iter(self._entries))]
        return target

    def evict(self, function_id: str) -> None:
        """Forget one function (it changed)."""
        self._generation += 1
        self._entries.pop(function_id, None)

    def clear(self) -> None:
        """Forget everything."""
        self._generation += 1
        self._entries = {}

    def suspend(self) -> None:
        """Forget everything and keep nothing until `resume` (no listener)."""
        self.enabled = False
        self.clear()

    def resume(self) -> None:
        """Forget everything, then cache again (the listener hears every change from now)."""
        self.clear()
        self.enabled = True

    def __len__(self) -> int:
        return len(self._entries)
