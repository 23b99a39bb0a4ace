"""The one read `/fn` needs: a function, its active version and its env vars, and the
in-memory view of it (`RuntimeView`) that spares `/fn` its two queries per call on SQLite.
On PostgreSQL (`DirectRuntimeView`) every lookup reads the database: no stale reads."""

from __future__ import annotations

import sqlite3
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
    """`RuntimeView`'s interface without a cache, for PostgreSQL: every lookup is
    `load_target` on the given connection, so a change committed by any node is what the
    very next call runs (issue 15 item 2 adds a LISTEN/NOTIFY-invalidated cache)."""

    def __init__(self, conn: Conn) -> None:
        self._conn = conn

    def target(self, function_id: str) -> RuntimeTarget | None:
        """`load_target`'s answer, read now."""
        return load_target(self._conn, function_id)
