"""The one read `/fn` needs: a function, its active version and its env vars."""

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
    env = dict(
        conn.execute(
            "SELECT key, value FROM env_vars WHERE function_id = ?", (function_id,)
        ).fetchall()
    )
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
