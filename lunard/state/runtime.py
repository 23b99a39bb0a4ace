"""The one read `/fn` needs: a function, its active version and its env vars, and the
in-memory view of it (`RuntimeView`) that spares `/fn` its two queries per call."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


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


def load_target(conn: sqlite3.Connection, function_id: str) -> RuntimeTarget | None:
    """The function with its active version and env vars, or None if it does not exist."""
    row = conn.execute(
        "SELECT f.name, f.disabled, f.save_response, f.max_concurrency, "
        "v.id AS vid, v.version, v.code "
        "FROM functions f LEFT JOIN function_versions v "
        "ON v.function_id = f.id AND v.is_active = 1 WHERE f.id = ?",
        (function_id,),
    ).fetchone()
    if row is None:
        return None
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


def function_exists(conn: sqlite3.Connection, function_id: str) -> bool:
    """Whether a function with this id exists."""
    row = conn.execute("SELECT 1 FROM functions WHERE id = ?", (function_id,)).fetchone()
    return row is not None


def load_env(conn: sqlite3.Connection, function_id: str) -> dict[str, str]:
    """The function's env vars (rows outlive a deleted function, like upstream)."""
    rows = conn.execute("SELECT key, value FROM env_vars WHERE function_id = ?", (function_id,))
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
