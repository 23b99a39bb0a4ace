"""Analytics over execution records: canned reports and read-only SQL (admin auth).

- `GET /api/analytics/overview?window=1h|24h|7d|30d` — every function's figures + totals.
- `GET /api/functions/{id}/analytics?window=…` — one function's report (404 if unknown).
- `POST /api/analytics/query` `{"sql": "...", "limit": N, "timeout": S}` — one read-only
  SELECT over `executions`, `logs`, `ai_requests`, `email_requests`, in a sandbox process
  bounded by `timeout` and by the `records_memory_mb` setting (see `lunard.records.sql_runner`
  for what is refused and how).

Reports run on a cursor of the records database on a thread of their own, after the sink
has flushed, so they never block the sink's writes (`sql_runner.on_cursor`); a query's
thread uses such a cursor only to copy the columns its sandbox reads.

With `lake_url` (a cluster: records on PostgreSQL), the same reports and the same sandboxed
queries run on an in-memory DuckDB over the lake's Parquet files instead
(`lunard.records.lake.open_lake`: views of the same names, columns and types, file access
walled in to the lake), with the same JSON bodies. Every such answer carries
`X-Lunard-Data-As-Of: <RFC 3339 UTC>`: every record created before that instant is in the
lake (the end of the last exported slice; `1970-01-01T00:00:00Z` while nothing is
exported yet). Records after it may be missing: the lake lags by the seal delay plus one
slice (`lunard.records.lake_export.Exporter`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import trio
from quart import Blueprint, Response, current_app, request

from lunard.errors import BadRequest, InternalError, NotFound
from lunard.http.auth import require_auth
from lunard.http.deps import deps
from lunard.http.responses import json_response, optional_field, read_json_object
from lunard.records import lake, reports, sql_runner
from lunard.records.schema import TABLE_NAMES
from lunard.state import exports
from lunard.state.functions import function_names
from lunard.state.runtime import function_exists

bp = Blueprint("analytics", __name__)

T = TypeVar("T")
# Ad-hoc queries running at once; more wait their turn. Each is bounded by its time limit
# and is one sandbox process of at most records_memory_mb + 160 MiB.
QUERY_CONCURRENCY = 2
_LIMITER_KEY = "lunard.records.reports.query_limiter"


async def _on_records(fn: Callable[[Any], T]) -> tuple[T, dict[str, str]]:
    """`fn` over the records (the sink's cursor, or the lake) and the headers to answer with."""
    config = deps().config
    if config.lake_url:
        lake_dir = lake.lake_dir(config.lake_url)
        # Read before the files: the lake holds at least what the claims say (a lower bound).
        as_of = await deps().state.call(lambda conn: exports.data_as_of(conn, TABLE_NAMES))
        result = await lake.on_lake(
            lake_dir, fn, memory_mb=config.records_memory_mb, threads=config.records_threads
        )
        return result, {lake.AS_OF_HEADER: lake.rfc3339(as_of)}
    inbox = deps().sink
    if inbox is None:
        raise InternalError("Execution records are not available")
    return await sql_runner.on_cursor(inbox, fn), {}


def _answer(body: Any, headers: dict[str, str]) -> Response:
    response = json_response(body)
    response.headers.update(headers)
    return response


def _window() -> str:
    """The `window` query parameter: absent means 24h; empty, repeated or unknown is a 400
    (the document declares one value of the enum)."""
    given = request.args.getlist("window")
    if len(given) > 1:
        raise BadRequest("window must be given at most once")
    if given == [""]:
        raise BadRequest(f"window must be one of {', '.join(reports.WINDOWS)} (got '')")
    return reports.parse_window(given[0] if given else None)


@bp.get("/api/analytics/overview")
@require_auth
async def overview() -> Response:
    """Per-function figures (busiest first, with names) and platform totals for a window."""
    window = _window()
    now = time.time()
    report, headers = await _on_records(lambda conn: reports.overview(conn, window, now))
    names = deps().state.read(function_names)
    for row in report["functions"]:
        row["name"] = names.get(row["function_id"])
    return _answer(report, headers)


@bp.get("/api/functions/<function_id>/analytics")
@require_auth
async def function_analytics(function_id: str) -> Response:
    """One function's report for a window: durations, errors, throughput, triggers."""
    window = _window()
    if not deps().state.read(lambda conn: function_exists(conn, function_id)):
        raise NotFound("Function not found")
    now = time.time()
    report, headers = await _on_records(
        lambda conn: reports.function_report(conn, function_id, window, now)
    )
    return _answer(report, headers)


def _query_limiter() -> trio.CapacityLimiter:
    limiter: trio.CapacityLimiter | None = current_app.extensions.get(_LIMITER_KEY)
    if limiter is None:
        limiter = trio.CapacityLimiter(QUERY_CONCURRENCY)
        current_app.extensions[_LIMITER_KEY] = limiter
    return limiter


@bp.post("/api/analytics/query")
@require_auth
async def query() -> Response:
    """Run one read-only SELECT; every refusal is a 400 that says why."""
    body = await read_json_object()
    sql = body.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        raise BadRequest("sql is required: one SELECT statement as a string")
    limit = optional_field(body, "limit", int)
    limit = sql_runner.DEFAULT_ROW_LIMIT if limit is None else limit
    if not 1 <= limit <= sql_runner.MAX_ROW_LIMIT:
        raise BadRequest(f"limit must be between 1 and {sql_runner.MAX_ROW_LIMIT}")
    time_limit = optional_field(body, "timeout", (int, float))
    time_limit = sql_runner.DEFAULT_TIME_LIMIT if time_limit is None else time_limit
    if not 0 < time_limit <= sql_runner.DEFAULT_TIME_LIMIT:
        raise BadRequest(
            f"timeout must be more than 0 and at most {sql_runner.DEFAULT_TIME_LIMIT:g} seconds"
        )
    sql_runner.check_sql(sql)  # refuse before queueing or touching the sink
    memory_mb = deps().config.records_memory_mb
    async with _query_limiter():
        result, headers = await _on_records(
            lambda conn: sql_runner.run_query(
                conn, sql, limit=limit, time_limit=time_limit, memory_mb=memory_mb
            )
        )
    return _answer(result.to_json(), headers)
