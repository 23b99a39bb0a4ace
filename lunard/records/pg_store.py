"""The execution-records reads on PostgreSQL: the twins of `lunard.records.store`.

The same functions, names and return values as `store` (the API's JSON shapes of http-api
§3.3–3.6, built by the same `store.item` from the same column lists), for a psycopg
connection. Only the SQL differs: `%s` placeholders, enums read with `::text`, timestamps as
whole Unix seconds with `floor(extract(epoch …))`, and ids compared byte-wise
(`COLLATE "C"`, DuckDB's order) where they break ties.
"""

from __future__ import annotations

from typing import Any

from lunard.records.schema import (
    AI_REQUESTS,
    EMAIL_REQUESTS,
    ENUMS,
    EXECUTIONS,
    LOGS,
    Column,
    Table,
)
from lunard.records.store import item

_EXECUTION = EXECUTIONS.readable()
_EXECUTION_LISTED = EXECUTIONS.readable(without=["response_json"])


def select_sql(column: Column) -> str:
    """The PostgreSQL expression a read selects for `column` (see `Column.select_sql`)."""
    if column.select is not None:
        return column.select  # portable SQL (the trigger's COALESCE)
    if column.sql_type in ENUMS:
        return f"{column.quoted}::text"
    if column.sql_type == "TIMESTAMP":
        return f"floor(extract(epoch FROM {column.quoted}))::bigint"
    return column.quoted


def _select(columns: tuple[Column, ...]) -> str:
    return ", ".join(select_sql(column) for column in columns)


def _count(conn: Any, sql: str, params: tuple[Any, ...]) -> int:
    row = conn.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def list_executions(
    conn: Any, function_id: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """A function's executions, newest first, without `response_json`; and their total."""
    total = _count(conn, "SELECT count(*) FROM executions WHERE function_id = %s", (function_id,))
    rows = conn.execute(
        f"SELECT {_select(_EXECUTION_LISTED)} FROM executions WHERE function_id = %s "
        'ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT %s OFFSET %s',
        (function_id, limit, offset),
    ).fetchall()
    return [item(_EXECUTION_LISTED, row) for row in rows], total


def get_execution(conn: Any, execution_id: str) -> dict[str, Any] | None:
    """One execution with `response_json` when stored, or None."""
    row = conn.execute(
        f"SELECT {_select(_EXECUTION)} FROM executions WHERE id = %s LIMIT 1", (execution_id,)
    ).fetchone()
    return None if row is None else item(_EXECUTION, row)


def execution_exists(conn: Any, execution_id: str) -> bool:
    """Whether an execution with this id is recorded."""
    row = conn.execute("SELECT 1 FROM executions WHERE id = %s LIMIT 1", (execution_id,)).fetchone()
    return row is not None


def _execution_page(
    conn: Any, table: Table, order: str, execution_id: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    name, columns = table.name, table.readable()
    total = _count(conn, f"SELECT count(*) FROM {name} WHERE execution_id = %s", (execution_id,))
    rows = conn.execute(
        f"SELECT {_select(columns)} FROM {name} "
        f"WHERE execution_id = %s ORDER BY {order} LIMIT %s OFFSET %s",
        (execution_id, limit, offset),
    ).fetchall()
    return [item(columns, row) for row in rows], total


def list_logs(
    conn: Any, execution_id: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """An execution's log lines, oldest first (in the order written); and their total."""
    return _execution_page(conn, LOGS, "seq", execution_id, limit, offset)


def list_ai_requests(
    conn: Any, execution_id: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """An execution's tracked `ai.chat` calls (§3.5), oldest first; and their total."""
    return _execution_page(conn, AI_REQUESTS, "created_at, seq", execution_id, limit, offset)


def list_email_requests(
    conn: Any, execution_id: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """An execution's tracked `email.send` calls (§3.6), oldest first; and their total."""
    return _execution_page(conn, EMAIL_REQUESTS, "created_at, seq", execution_id, limit, offset)
