"""The execution-records database (DuckDB): its schema, its migrations and the read queries.

Only the sink actor holds a connection (`lunard.records.sink`); everything here is a plain
function of that connection, run on the sink's thread through `lunard.records.sink.query`.
The read functions return dicts already in the JSON shape of http-api §3.3–3.6: fields
marked "omit if null" are left out, timestamps are integer Unix seconds.

Schema choices, for the reports a later issue builds on this data:

- Timestamps are `TIMESTAMP` (UTC, microseconds), not Unix integers: `date_trunc`,
  `time_bucket` and range filters work on them directly, and log lines keep their sub-second
  order. The API reads them back as whole seconds (`epoch_ms(created_at) // 1000`).
- `status` and `level` are ENUMs: closed sets fixed by the spec, stored as one byte. `trigger`,
  `provider` and the AI/email `status` stay VARCHAR (DuckDB dictionary-compresses them anyway)
  so a new value never needs a table rewrite.
- No primary keys or secondary indexes. Ids are xids, which are time-ordered, so rows arrive
  almost sorted by id and DuckDB's per-row-group min/max (zone maps) prune lookups by id or
  execution id; an ART index would slow every batch insert and every delete.
- Logs, AI and email rows carry `seq`, their position within the execution, so "oldest first"
  is exact insertion order even within one second.
- Email recipients are a `VARCHAR[]` (upstream joins them with commas, which breaks addresses
  such as `"Doe, Jane" <jane@example.com>`).
"""

from __future__ import annotations

from typing import Any

import duckdb

from lunard import transactions
from lunard.transactions import SchemaTooNew as SchemaTooNew

# (version, SQL). Append only: a released migration never changes.
MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TYPE execution_status AS ENUM ('pending', 'success', 'error');
        CREATE TYPE log_level AS ENUM ('debug', 'info', 'warn', 'error');

        CREATE TABLE executions (
            id VARCHAR NOT NULL,
            function_id VARCHAR NOT NULL,
            function_version_id VARCHAR NOT NULL,
            status execution_status NOT NULL,
            duration_ms INTEGER,
            error_message VARCHAR,
            event_json VARCHAR NOT NULL,
            response_json VARCHAR,
            "trigger" VARCHAR NOT NULL DEFAULT 'http',
            created_at TIMESTAMP NOT NULL
        );

        CREATE TABLE logs (
            execution_id VARCHAR NOT NULL,
            seq INTEGER NOT NULL,
            level log_level NOT NULL,
            message VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL
        );

        CREATE TABLE ai_requests (
            id VARCHAR NOT NULL,
            execution_id VARCHAR NOT NULL,
            seq INTEGER NOT NULL,
            provider VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            endpoint VARCHAR NOT NULL,
            request_json VARCHAR NOT NULL,
            response_json VARCHAR,
            status VARCHAR NOT NULL,
            error_message VARCHAR,
            input_tokens INTEGER,
            output_tokens INTEGER,
            duration_ms INTEGER NOT NULL,
            created_at TIMESTAMP NOT NULL
        );

        CREATE TABLE email_requests (
            id VARCHAR NOT NULL,
            execution_id VARCHAR NOT NULL,
            seq INTEGER NOT NULL,
            from_address VARCHAR NOT NULL,
            to_addresses VARCHAR[] NOT NULL,
            subject VARCHAR NOT NULL,
            has_text BOOLEAN NOT NULL,
            has_html BOOLEAN NOT NULL,
            request_json VARCHAR NOT NULL,
            response_json VARCHAR,
            status VARCHAR NOT NULL,
            error_message VARCHAR,
            email_id VARCHAR,
            duration_ms INTEGER NOT NULL,
            created_at TIMESTAMP NOT NULL
        );
        """,
    ),
]

SCHEMA_VERSION = max(version for version, _ in MIGRATIONS)

LOG_LEVELS = ("debug", "info", "warn", "error")


def migrate(conn: duckdb.DuckDBPyConnection) -> int:
    """Apply pending migrations, each in its own transaction; return the schema version.

    Raises `SchemaTooNew` when the file is ahead of this code, and `duckdb.Error` when the
    file cannot be read.
    """
    return transactions.migrate(
        conn,
        MIGRATIONS,
        what="records database",
        applied_at_type="TIMESTAMP",
        record=lambda version: (
            "INSERT INTO schema_migrations VALUES (?, now()::TIMESTAMP)",
            [version],
        ),
    )


# --------------------------------------------------------------------------- read queries

_EXECUTION_COLUMNS = (
    "id, function_id, function_version_id, status::VARCHAR, duration_ms, error_message, "
    'event_json, {response}, "trigger", epoch_ms(created_at) // 1000'
)


def _execution(row: tuple[Any, ...], *, with_response: bool) -> dict[str, Any]:
    (
        id_,
        function_id,
        version_id,
        status,
        duration_ms,
        error_message,
        event_json,
        response_json,
        trigger,
        created_at,
    ) = row
    item: dict[str, Any] = {
        "id": id_,
        "function_id": function_id,
        "function_version_id": version_id,
        "status": status,
    }
    if duration_ms is not None:
        item["duration_ms"] = duration_ms
    if error_message is not None:
        item["error_message"] = error_message
    item["event_json"] = event_json
    if with_response and response_json is not None:
        item["response_json"] = response_json
    item["trigger"] = trigger or "http"
    item["created_at"] = created_at
    return item


def _count(conn: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> int:
    row = conn.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def list_executions(
    conn: duckdb.DuckDBPyConnection, function_id: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """A function's executions, newest first, without `response_json`; and their total."""
    total = _count(conn, "SELECT count(*) FROM executions WHERE function_id = ?", [function_id])
    rows = conn.execute(
        f"SELECT {_EXECUTION_COLUMNS.format(response='NULL')} FROM executions "
        "WHERE function_id = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
        [function_id, limit, offset],
    ).fetchall()
    return [_execution(row, with_response=False) for row in rows], total


def get_execution(conn: duckdb.DuckDBPyConnection, execution_id: str) -> dict[str, Any] | None:
    """One execution with `response_json` when stored, or None."""
    row = conn.execute(
        f"SELECT {_EXECUTION_COLUMNS.format(response='response_json')} FROM executions "
        "WHERE id = ? LIMIT 1",
        [execution_id],
    ).fetchone()
    return None if row is None else _execution(row, with_response=True)


def execution_exists(conn: duckdb.DuckDBPyConnection, execution_id: str) -> bool:
    """Whether an execution with this id is recorded."""
    row = conn.execute("SELECT 1 FROM executions WHERE id = ? LIMIT 1", [execution_id]).fetchone()
    return row is not None


# One column of a per-execution list: (API field, SQL expression, omitted when NULL).
Column = tuple[str, str, bool]

_CREATED_AT: Column = ("created_at", "epoch_ms(created_at) // 1000", False)
_LOG_COLUMNS: list[Column] = [
    ("level", "level::VARCHAR", False),
    ("message", "message", False),
    _CREATED_AT,
]
_AI_COLUMNS: list[Column] = [
    ("id", "id", False),
    ("execution_id", "execution_id", False),
    ("provider", "provider", False),
    ("model", "model", False),
    ("endpoint", "endpoint", False),
    ("request_json", "request_json", False),
    ("response_json", "response_json", True),
    ("status", "status", False),
    ("error_message", "error_message", True),
    ("input_tokens", "input_tokens", True),
    ("output_tokens", "output_tokens", True),
    ("duration_ms", "duration_ms", False),
    _CREATED_AT,
]
_EMAIL_COLUMNS: list[Column] = [
    ("id", "id", False),
    ("execution_id", "execution_id", False),
    ("from", "from_address", False),
    ("to", "to_addresses", False),
    ("subject", "subject", False),
    ("has_text", "has_text", False),
    ("has_html", "has_html", False),
    ("request_json", "request_json", False),
    ("response_json", "response_json", True),
    ("status", "status", False),
    ("error_message", "error_message", True),
    ("email_id", "email_id", True),
    ("duration_ms", "duration_ms", False),
    _CREATED_AT,
]


def _execution_page(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    columns: list[Column],
    order: str,
    execution_id: str,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """One page of an execution's rows of `table` in the API's shape; and their total."""
    total = _count(conn, f"SELECT count(*) FROM {table} WHERE execution_id = ?", [execution_id])
    rows = conn.execute(
        f"SELECT {', '.join(sql for _, sql, _ in columns)} FROM {table} "
        f"WHERE execution_id = ? ORDER BY {order} LIMIT ? OFFSET ?",
        [execution_id, limit, offset],
    ).fetchall()
    items = [
        {
            name: value
            for (name, _, optional), value in zip(columns, row, strict=True)
            if not (optional and value is None)
        }
        for row in rows
    ]
    return items, total


def list_logs(
    conn: duckdb.DuckDBPyConnection, execution_id: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """An execution's log lines, oldest first (in the order written); and their total."""
    return _execution_page(conn, "logs", _LOG_COLUMNS, "seq", execution_id, limit, offset)


def list_ai_requests(
    conn: duckdb.DuckDBPyConnection, execution_id: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """An execution's tracked `ai.chat` calls (§3.5), oldest first; and their total."""
    return _execution_page(
        conn, "ai_requests", _AI_COLUMNS, "created_at, seq", execution_id, limit, offset
    )


def list_email_requests(
    conn: duckdb.DuckDBPyConnection, execution_id: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """An execution's tracked `email.send` calls (§3.6), oldest first; and their total."""
    return _execution_page(
        conn, "email_requests", _EMAIL_COLUMNS, "created_at, seq", execution_id, limit, offset
    )
