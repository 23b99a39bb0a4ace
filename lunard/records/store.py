"""The execution-records database's read queries (DuckDB).

Only the sink actor holds a connection (`lunard.records.sink`); everything here is a plain
function of that connection, run on the sink's thread through `lunard.records.sink.query`.
The read functions return dicts already in the JSON shape of http-api §3.3–3.6: fields
marked "omit if null" are left out, timestamps are integer Unix seconds. Which columns they
select, under which field names, comes from the column lists in `lunard.records.schema`
(which also holds the schema, its migrations and the reasons for its choices; the names
below are imported from there so `store.SCHEMA_VERSION` and the rest keep working).
"""

from __future__ import annotations

from typing import Any

import duckdb

from lunard.records.schema import AI_REQUESTS, EMAIL_REQUESTS, EXECUTIONS, LOGS, Column, Table
from lunard.records.schema import LOG_LEVELS as LOG_LEVELS
from lunard.records.schema import MIGRATIONS as MIGRATIONS
from lunard.records.schema import SCHEMA_VERSION as SCHEMA_VERSION
from lunard.records.schema import SchemaTooNew as SchemaTooNew
from lunard.records.schema import migrate as migrate

# --------------------------------------------------------------------------- read queries

# The columns each read selects, in the order of the API's fields.
_EXECUTION = EXECUTIONS.readable()
_EXECUTION_LISTED = EXECUTIONS.readable(without=["response_json"])  # §3.3: lists leave it out


def _select(columns: tuple[Column, ...]) -> str:
    return ", ".join(column.select_sql for column in columns)


def item(columns: tuple[Column, ...], row: tuple[Any, ...]) -> dict[str, Any]:
    """One row as the API's item: fields by `api_field`, "omit if null" ones left out."""
    return {
        column.api_field: value
        for column, value in zip(columns, row, strict=True)
        if not (column.omit_null and value is None)
    }


def _count(conn: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> int:
    row = conn.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def list_executions(
    conn: duckdb.DuckDBPyConnection, function_id: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """A function's executions, newest first, without `response_json`; and their total."""
    total = _count(conn, "SELECT count(*) FROM executions WHERE function_id = ?", [function_id])
    rows = conn.execute(
        f"SELECT {_select(_EXECUTION_LISTED)} FROM executions "
        "WHERE function_id = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
        [function_id, limit, offset],
    ).fetchall()
    return [item(_EXECUTION_LISTED, row) for row in rows], total


def get_execution(conn: duckdb.DuckDBPyConnection, execution_id: str) -> dict[str, Any] | None:
    """One execution with `response_json` when stored, or None."""
    row = conn.execute(
        f"SELECT {_select(_EXECUTION)} FROM executions WHERE id = ? LIMIT 1", [execution_id]
    ).fetchone()
    return None if row is None else item(_EXECUTION, row)


def execution_exists(conn: duckdb.DuckDBPyConnection, execution_id: str) -> bool:
    """Whether an execution with this id is recorded."""
    row = conn.execute("SELECT 1 FROM executions WHERE id = ? LIMIT 1", [execution_id]).fetchone()
    return row is not None


def _execution_page(
    conn: duckdb.DuckDBPyConnection,
    table: Table,
    order: str,
    execution_id: str,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """One page of an execution's rows of `table` in the API's shape; and their total."""
    name, columns = table.name, table.readable()
    total = _count(conn, f"SELECT count(*) FROM {name} WHERE execution_id = ?", [execution_id])
    rows = conn.execute(
        f"SELECT {_select(columns)} FROM {name} "
        f"WHERE execution_id = ? ORDER BY {order} LIMIT ? OFFSET ?",
        [execution_id, limit, offset],
    ).fetchall()
    return [item(columns, row) for row in rows], total


def list_logs(
    conn: duckdb.DuckDBPyConnection, execution_id: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """An execution's log lines, oldest first (in the order written); and their total."""
    return _execution_page(conn, LOGS, "seq", execution_id, limit, offset)


def list_ai_requests(
    conn: duckdb.DuckDBPyConnection, execution_id: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """An execution's tracked `ai.chat` calls (§3.5), oldest first; and their total."""
    return _execution_page(conn, AI_REQUESTS, "created_at, seq", execution_id, limit, offset)


def list_email_requests(
    conn: duckdb.DuckDBPyConnection, execution_id: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """An execution's tracked `email.send` calls (§3.6), oldest first; and their total."""
    return _execution_page(conn, EMAIL_REQUESTS, "created_at, seq", execution_id, limit, offset)
