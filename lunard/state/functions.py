"""Functions, versions, env vars and KV in the state database (platform §3.3).

Pure functions over a state `Conn` (SQLite or PostgreSQL, SQL picked per dialect with
`Sql`); `StateStore.call` runs each in one transaction, so a raised exception leaves
nothing half-written. On PostgreSQL env and KV are BYTEA: written as bytes, read back as
text (`dialect.shown`: invalid UTF-8 as U+FFFD) on both backends. Rows become the
API's JSON shapes (http-api §3.1–3.2) here, with "omit if null" fields left out. The SQL
is in `function_sql`.

Every write that changes what `/fn` or the scheduler reads announces it in its own
transaction (`runtime.announce`: `function:<id>`, `schedule:<id>`; PostgreSQL only), so
every node's cache drops it at commit (issue 15 item 2).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lunard.errors import BadRequest, InternalError, NotFound
from lunard.ids import new_id, version_id
from lunard.state import function_sql as sql
from lunard.state.dialect import Conn, is_postgres, placeholder, shown, stored
from lunard.state.runtime import announce
from lunard.validation import FunctionUpdate

GLOBAL_SCOPE = ""  # the global KV namespace's function id
FUNCTION_NOT_FOUND = "Function not found"
VERSION_NOT_FOUND = "Version not found"

_OPTIONAL_FUNCTION_FIELDS = ("description", "retention_days", "cron_schedule", "cron_status")
_UPDATABLE_COLUMNS = (
    "name",
    "description",
    "disabled",
    "retention_days",
    "cron_schedule",
    "cron_status",
    "save_response",
    "max_concurrency",
)
EMPTY_VERSION: dict[str, Any] = {
    "id": "",
    "function_id": "",
    "version": 0,
    "code": "",
    "created_at": 0,
    "is_active": False,
}


def _now() -> int:
    return int(time.time())


# Any value past the worker count behaves like no cap; the bound keeps it a sane integer.
MAX_CONCURRENCY_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class ConcurrencyLimit:
    """A validated `max_concurrency` to store: the workers a function's calls may hold at
    once (0: its runs are refused), or None for no cap of its own."""

    value: int | None


# --------------------------------------------------------------------------- JSON shapes


def version_json(row: Any) -> dict[str, Any]:
    """A FunctionVersion; `created_by` omitted when null."""
    data: dict[str, Any] = {
        "id": row["id"],
        "function_id": row["function_id"],
        "version": row["version"],
        "code": row["code"],
        "created_at": row["created_at"],
    }
    if row["created_by"] is not None:
        data["created_by"] = row["created_by"]
    data["is_active"] = bool(row["is_active"])
    return data


def function_json(
    row: Any,
    active: dict[str, Any] | None,
    *,
    env_vars: dict[str, str] | None = None,
    scoped_data: dict[str, str] | None = None,
    global_data: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A FunctionWithActiveVersion. `scoped_data`/`global_data` stay null unless given."""
    data: dict[str, Any] = {"id": row["id"], "name": row["name"]}
    if row["description"] is not None:
        data["description"] = row["description"]
    data["env_vars"] = env_vars or {}
    data["disabled"] = bool(row["disabled"])
    for name in _OPTIONAL_FUNCTION_FIELDS[1:]:
        if row[name] is not None:
            data[name] = row[name]
    data["save_response"] = bool(row["save_response"])
    # lunard's own field, always present: null means no cap (not "unset").
    data["max_concurrency"] = row["max_concurrency"]
    data["created_at"] = row["created_at"]
    data["updated_at"] = row["updated_at"]
    data["scoped_data"] = scoped_data
    data["global_data"] = global_data
    data["active_version"] = active if active is not None else dict(EMPTY_VERSION)
    return data


# --------------------------------------------------------------------------- lookups


def function_row(conn: Conn, function_id: str) -> Any:
    return conn.execute(sql.FUNCTION.of(conn), (function_id,)).fetchone()


def require_function(conn: Conn, function_id: str) -> Any:
    """The function's row, or NotFound `Function not found`."""
    row = function_row(conn, function_id)
    if row is None:
        raise NotFound(FUNCTION_NOT_FOUND)
    return row


def active_version(conn: Conn, function_id: str) -> dict[str, Any] | None:
    """The function's active FunctionVersion, or None."""
    row = conn.execute(sql.ACTIVE_VERSION.of(conn), (function_id,)).fetchone()
    return version_json(row) if row is not None else None


def env_vars(conn: Conn, function_id: str) -> dict[str, str]:
    """All env vars of a function, by key, as text (invalid UTF-8 shown as U+FFFD)."""
    rows = conn.execute(sql.ENV_VARS.of(conn), (function_id,))
    return {shown(row["key"]): shown(row["value"]) for row in rows}


def kv_entries(conn: Conn, scope: str) -> dict[str, str]:
    """All KV entries of a scope (a function id, or GLOBAL_SCOPE), as text: a value a worker
    stored with invalid UTF-8 is shown with U+FFFD (it stays intact in the store)."""
    rows = conn.execute(sql.KV_ENTRIES.of(conn), (scope,))
    return {shown(row["key"]): shown(row["value"]) for row in rows}


# --------------------------------------------------------------------------- functions


def create_function(
    conn: Conn,
    name: str,
    description: str | None,
    code: str,
    max_concurrency: int | None = None,
) -> dict[str, Any]:
    """Insert a function and its active version 1; return the FunctionWithActiveVersion."""
    now = _now()
    function_id = new_id(now)
    conn.execute(
        sql.INSERT_FUNCTION.of(conn),
        (function_id, name, description, now, now, max_concurrency),
    )
    version = create_version(conn, function_id, code, now)
    return function_json(require_function(conn, function_id), version)


def list_functions(conn: Conn, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """One page of functions, newest first, with their active versions; and the total."""
    total = int(conn.execute("SELECT COUNT(*) FROM functions").fetchone()[0])
    rows = conn.execute(sql.FUNCTION_PAGE.of(conn), (limit, offset)).fetchall()
    active = _active_versions(conn, [row["id"] for row in rows])
    return [function_json(row, active.get(row["id"])) for row in rows], total


def _active_versions(conn: Conn, function_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Active versions of several functions in one query, by function id."""
    if not function_ids:
        return {}
    marks = ",".join([placeholder(conn)] * len(function_ids))
    rows = conn.execute(
        f"SELECT * FROM function_versions WHERE is_active = 1 AND function_id IN ({marks})",
        tuple(function_ids),
    )
    return {row["function_id"]: version_json(row) for row in rows}


def get_function(conn: Conn, function_id: str) -> dict[str, Any]:
    """The full view of one function: env vars and both KV scopes included.

    NotFound for an unknown id; InternalError `No active version found` without one.
    """
    row = require_function(conn, function_id)
    active = active_version(conn, function_id)
    if active is None:
        raise InternalError("No active version found")
    return function_json(
        row,
        active,
        env_vars=env_vars(conn, function_id),
        scoped_data=kv_entries(conn, function_id),
        global_data=kv_entries(conn, GLOBAL_SCOPE),
    )


def update_function(
    conn: Conn,
    function_id: str,
    update: FunctionUpdate,
    limit: ConcurrencyLimit | None = None,
) -> None:
    """Apply a validated update: new active version for `code`, then the metadata (with
    `limit`, the new `max_concurrency`, when given; its None value is stored as NULL).

    An unknown function is NotFound `Function not found`, with or without `code` (DECISIONS
    8; upstream answers 500 `Failed to create new version` to the latter). `updated_at`
    moves only with metadata.
    """
    require_function(conn, function_id)
    if update.code is not None:
        create_version(conn, function_id, update.code, _now())
    metadata = update.metadata()
    if limit is not None:
        metadata["max_concurrency"] = limit.value
    if not metadata:
        return
    announce(conn, "function", function_id)
    if update.touches_schedule():
        announce(conn, "schedule", function_id)
    columns = [name for name in _UPDATABLE_COLUMNS if name in metadata]
    mark = placeholder(conn)
    assignments = ", ".join(f"{name} = {mark}" for name in columns)
    values = [_column_value(metadata[name]) for name in columns]
    conn.execute(
        f"UPDATE functions SET {assignments}, updated_at = {mark} WHERE id = {mark}",
        (*values, _now(), function_id),
    )


def _column_value(value: object) -> object:
    return int(value) if isinstance(value, bool) else value


def delete_function(conn: Conn, function_id: str) -> None:
    """Delete a function and (by cascade) its versions; env and KV stay, like upstream."""
    cursor = conn.execute(sql.DELETE_FUNCTION.of(conn), (function_id,))
    if cursor.rowcount == 0:
        raise NotFound(FUNCTION_NOT_FOUND)
    announce(conn, "function", function_id)
    announce(conn, "schedule", function_id)


def schedule_of(conn: Conn, function_id: str) -> tuple[str | None, str | None]:
    """`(cron_schedule, cron_status)` of a function; NotFound for an unknown id."""
    row = require_function(conn, function_id)
    return row["cron_schedule"], row["cron_status"]


# --------------------------------------------------------------------------- env and KV


def replace_env(conn: Conn, function_id: str, values: Mapping[str, str]) -> dict[str, Any] | None:
    """Make the function's env vars exactly `values`; return the active version (or None)."""
    require_function(conn, function_id)
    conn.execute(sql.DELETE_ENV.of(conn), (function_id,))
    conn.executemany(
        sql.INSERT_ENV.of(conn),
        [(function_id, stored(conn, key), stored(conn, value)) for key, value in values.items()],
    )
    announce(conn, "function", function_id)
    return active_version(conn, function_id)


def replace_kv(
    conn: Conn,
    function_id: str,
    entries: Sequence[tuple[str, str]],
    *,
    global_scope: bool,
) -> dict[str, Any] | None:
    """Make one KV scope exactly `entries` (last duplicate wins); return the active version.

    The function must exist even when the global scope is replaced.
    """
    require_function(conn, function_id)
    scope = GLOBAL_SCOPE if global_scope else function_id
    conn.execute(sql.DELETE_KV.of(conn), (scope,))
    conn.executemany(
        sql.UPSERT_KV.of(conn),
        [(scope, stored(conn, key), stored(conn, value)) for key, value in entries],
    )
    return active_version(conn, function_id)


# --------------------------------------------------------------------------- versions


def create_version(
    conn: Conn, function_id: str, code: str, now: int | None = None
) -> dict[str, Any]:
    """Insert version max+1 as the only active one; return it."""
    if is_postgres(conn):
        # Serialize version numbering per function (SQLite's BEGIN IMMEDIATE does it there).
        conn.execute("SELECT id FROM functions WHERE id = %s FOR UPDATE", (function_id,))
    row = conn.execute(sql.MAX_VERSION.of(conn), (function_id,)).fetchone()
    number = int(row[0]) + 1
    conn.execute(sql.DEACTIVATE.of(conn), (function_id,))
    conn.execute(
        sql.INSERT_VERSION.of(conn),
        (version_id(function_id, number), function_id, number, code, now or _now()),
    )
    announce(conn, "function", function_id)
    return _require_version(conn, function_id, version_id(function_id, number))


def list_versions(
    conn: Conn, function_id: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of a function's versions, highest first, and the total; NotFound if unknown."""
    require_function(conn, function_id)
    total = int(conn.execute(sql.COUNT_VERSIONS.of(conn), (function_id,)).fetchone()[0])
    rows = conn.execute(sql.VERSION_PAGE.of(conn), (function_id, limit, offset))
    return [version_json(row) for row in rows], total


def version_by_number(conn: Conn, function_id: str, number: int) -> dict[str, Any] | None:
    """The version with this number, or None (also for an unknown function)."""
    row = conn.execute(sql.VERSION_BY_NUMBER.of(conn), (function_id, number)).fetchone()
    return version_json(row) if row is not None else None


def _require_version(conn: Conn, function_id: str, vid: str) -> dict[str, Any]:
    """The version `vid` if `function_id` owns it (DECISIONS 8), else NotFound."""
    row = conn.execute(sql.VERSION_OF.of(conn), (vid, function_id)).fetchone()
    if row is None:
        raise NotFound(VERSION_NOT_FOUND)
    return version_json(row)


def function_names(conn: Conn) -> dict[str, str]:
    """Every function's name by id (the analytics overview labels its rows with them)."""
    return {row["id"]: row["name"] for row in conn.execute("SELECT id, name FROM functions")}


def activate_version(conn: Conn, function_id: str, vid: str) -> None:
    """Make `vid` the function's only active version (also when it already is)."""
    _require_version(conn, function_id, vid)
    conn.execute(sql.DEACTIVATE.of(conn), (function_id,))
    conn.execute(sql.ACTIVATE.of(conn), (vid,))
    announce(conn, "function", function_id)


def delete_version(conn: Conn, function_id: str, vid: str) -> None:
    """Delete an inactive version; NotFound if missing, BadRequest if it is the active one."""
    version = _require_version(conn, function_id, vid)
    if version["is_active"]:
        raise BadRequest("Cannot delete active version")
    conn.execute(sql.DELETE_VERSION.of(conn), (vid,))
