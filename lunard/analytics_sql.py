"""The read-only SQL runner behind `POST /api/analytics/query` and `lunard analytics query`.

A user's SQL runs only if every one of these holds; each refusal is an `AnalyticsRefused`
(400 over HTTP) with a message that says why:

1. DuckDB's own parser (`duckdb.extract_statements`) finds exactly one statement, and its
   type is SELECT (which covers `WITH`, `FROM x`, `VALUES`, `DESCRIBE`, `SUMMARIZE`,
   `SHOW`). `COPY`, `ATTACH`, `INSTALL`, `LOAD`, `SET`, `PRAGMA`, `CALL`, `EXPORT`, DDL and
   DML are other statement types and never reach the engine.
2. It runs inside `BEGIN TRANSACTION READ ONLY`, so DuckDB itself refuses any write, even
   one a SELECT could smuggle in.
3. The records database instance is opened with `SAFE_CONFIG`: external access disabled
   (no `read_csv`, `read_parquet`, `glob`, `read_text`, replacement scans of file paths or
   Python objects, extension installs or loads) and the configuration locked (`SET` and
   `PRAGMA` fail even if they got this far). These are DuckDB instance settings enforced by
   the engine, not string filters.
4. A timer calls `interrupt()` on the query's own cursor after the time limit, and at most
   `limit` rows are fetched (the rest of a streaming result is never computed).

Queries run on a fresh cursor of the sink's connection (a second connection to the same
DuckDB instance, handed out by the sink after a flush, so a query sees every record whose
call has answered) on a worker thread of their own: a slow query never stalls the sink's
writes, and DuckDB's MVCC gives it a consistent snapshot.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import decimal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import duckdb
import trio

from lunard import sink
from lunard.errors import BadRequest

T = TypeVar("T")

# The records instance's settings (the sink opens the file with them; per instance, and one
# instance per file in a process). Any other connection that runs users' SQL uses them too.
SAFE_CONFIG = sink.SAFE_CONFIG

DEFAULT_ROW_LIMIT = 1_000
MAX_ROW_LIMIT = 10_000
DEFAULT_TIME_LIMIT = 10.0
MAX_SQL_CHARS = 100_000
QUERYABLE = ("executions", "logs", "ai_requests", "email_requests")


class AnalyticsRefused(BadRequest):
    """The SQL was not run (or was stopped): not one SELECT, a refused feature, too slow."""


@dataclass(frozen=True)
class QueryResult:
    """A query's answer: column names and DuckDB types, JSON-ready rows, truncation."""

    columns: list[dict[str, str]]
    rows: list[list[Any]]
    truncated: bool
    elapsed_ms: float

    def to_json(self) -> dict[str, Any]:
        """The body of `POST /api/analytics/query`."""
        return {
            "columns": self.columns,
            "rows": self.rows,
            "row_count": len(self.rows),
            "truncated": self.truncated,
            "elapsed_ms": round(self.elapsed_ms, 3),
        }


def check_sql(sql: str) -> str:
    """Return `sql` stripped if DuckDB parses it as exactly one SELECT; else refuse."""
    text = sql.strip()
    if not text:
        raise AnalyticsRefused("sql is empty")
    if len(text) > MAX_SQL_CHARS:
        raise AnalyticsRefused(f"sql is longer than {MAX_SQL_CHARS} characters")
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise AnalyticsRefused(f"sql does not parse: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise AnalyticsRefused(
            f"sql must be exactly one statement, got {len(statements)}; remove the extra statements"
        )
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise AnalyticsRefused(
            f"only read-only SELECT queries are allowed (this is a {kind.name} statement); "
            f"query the views {', '.join(QUERYABLE)}"
        )
    return text


def run_query(
    conn: duckdb.DuckDBPyConnection,
    sql: str,
    *,
    limit: int = DEFAULT_ROW_LIMIT,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> QueryResult:
    """Run one checked SELECT on `conn` (a cursor of a `SAFE_CONFIG` instance, owned by the
    caller and not shared) read-only, with a row limit and a time limit.
    """
    text = check_sql(sql)
    started = time.perf_counter()
    timer = threading.Timer(time_limit, conn.interrupt)
    timer.daemon = True
    conn.execute("BEGIN TRANSACTION READ ONLY")
    timer.start()
    try:
        result = conn.execute(text)
        description = result.description or []
        raw = result.fetchmany(limit + 1)
    except duckdb.InterruptException:
        raise AnalyticsRefused(f"query exceeded the time limit of {time_limit:g}s") from None
    except duckdb.PermissionException as exc:
        raise AnalyticsRefused(
            f"refused: {_first_line(exc)} (queries may read only {', '.join(QUERYABLE)})"
        ) from None
    except duckdb.Error as exc:
        raise AnalyticsRefused(f"query failed: {_first_line(exc)}") from None
    finally:
        timer.cancel()
        _rollback(conn)
    elapsed_ms = (time.perf_counter() - started) * 1000
    columns = [{"name": str(d[0]), "type": str(d[1])} for d in description]
    rows = [[json_value(v) for v in row] for row in raw[:limit]]
    return QueryResult(columns, rows, len(raw) > limit, elapsed_ms)


def _rollback(conn: duckdb.DuckDBPyConnection) -> None:
    # An interrupted or failed query may already have ended the transaction.
    with contextlib.suppress(duckdb.Error):
        conn.execute("ROLLBACK")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def json_value(value: Any) -> Any:
    """A DuckDB value as JSON: timestamps ISO 8601, decimals as numbers, blobs base64."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return str(value)


# --------------------------------------------------------------------------- on the daemon


async def on_cursor(inbox: trio.MemorySendChannel[Any], fn: Callable[[Any], T]) -> T:
    """Run `fn(cursor)` on a fresh cursor of the records database, on a thread of its own.

    The sink hands out the cursor after flushing (read-your-writes); the work then runs
    beside the sink's writes instead of blocking them. The cursor is always closed.
    """
    cursor: duckdb.DuckDBPyConnection = await sink.query(inbox, lambda conn: conn.cursor())
    try:
        return await trio.to_thread.run_sync(fn, cursor)
    finally:
        cursor.close()
