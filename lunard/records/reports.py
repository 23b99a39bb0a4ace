"""Canned reports on execution records: which functions are slow, failing or busy, and why.

Every report is a plain function of a DuckDB connection (the sink's cursor in the daemon, a
read-only connection in `lunard analytics --data-dir`) and of `now`, so tests inject the
clock. A window is `(now - length, now]` over `executions.created_at` (UTC).

Definitions, so a reader can check any figure by hand:
- `invocations`: executions recorded in the window; `errors`: those with status `error`;
  `error_rate`: errors / invocations (0.0 when there are none), rounded to 6 places.
- Duration percentiles are exact, DuckDB's `quantile_disc` (nearest rank): p-th percentile
  = the smallest recorded `duration_ms` such that at least p% of the window's executions
  took that long or less (for 1..100, p95 is 95; for 1..10, p95 is 10).
- `per_minute` buckets cover the last 60 minutes of the window (its whole length for `1h`),
  `per_hour` buckets the whole window; buckets are aligned to clock minutes/hours (UTC),
  dense (empty ones are zeros) and oldest first, `start` in Unix seconds.
- `triggers`: counts by trigger (`http`, `cron`).
- `top_errors`: the most frequent error messages (ties by message), each with the id of its
  latest execution (latest `created_at`; within one second the larger id, as xids sort by
  creation).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from lunard.errors import BadRequest

WINDOWS: dict[str, dt.timedelta] = {
    "1h": dt.timedelta(hours=1),
    "24h": dt.timedelta(hours=24),
    "7d": dt.timedelta(days=7),
    "30d": dt.timedelta(days=30),
}
DEFAULT_WINDOW = "24h"
TOP_ERRORS = 10
MINUTE_SPAN = dt.timedelta(hours=1)

_IN_WINDOW = "created_at > ? AND created_at <= ?"
_FIGURES = """
    count(*) AS invocations,
    count(*) FILTER (status = 'error') AS errors,
    quantile_disc(duration_ms, [0.5, 0.95, 0.99]) AS q,
    max(duration_ms) AS max_ms,
    avg(duration_ms) AS avg_ms,
    count(*) FILTER ("trigger" = 'http') AS http,
    count(*) FILTER ("trigger" = 'cron') AS cron,
    max(created_at) AS last_at
"""


def parse_window(value: str | None) -> str:
    """The window name, defaulting to 24h; anything else is a 400 naming the choices."""
    name = value or DEFAULT_WINDOW
    if name not in WINDOWS:
        raise BadRequest(f"window must be one of {', '.join(WINDOWS)} (got {name!r})")
    return name


def _utc(now: float) -> dt.datetime:
    """Unix seconds as the naive UTC datetime DuckDB's TIMESTAMP columns hold."""
    return dt.datetime.fromtimestamp(now, dt.UTC).replace(tzinfo=None)


def _unix(value: dt.datetime | None) -> int | None:
    return None if value is None else int(value.replace(tzinfo=dt.UTC).timestamp())


def _bounds(window: str, now: float) -> tuple[dt.datetime, dt.datetime]:
    end = _utc(now)
    return end - WINDOWS[parse_window(window)], end


def _figures(row: tuple[Any, ...]) -> dict[str, Any]:
    invocations, errors, q, max_ms, avg_ms, http, cron, last_at = row
    p50, p95, p99 = q if q else (None, None, None)
    return {
        "invocations": invocations,
        "errors": errors,
        "error_rate": round(errors / invocations, 6) if invocations else 0.0,
        "duration_ms": {
            "p50": p50,
            "p95": p95,
            "p99": p99,
            "max": max_ms,
            "avg": None if avg_ms is None else round(avg_ms, 3),
        },
        "triggers": {"http": http, "cron": cron},
        "last_execution_at": _unix(last_at),
    }


def _window_json(window: str, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    return {"window": window, "from": _unix(start), "to": _unix(end)}


def function_report(
    conn: duckdb.DuckDBPyConnection, function_id: str, window: str, now: float
) -> dict[str, Any]:
    """One function over one window: figures, throughput buckets and top errors."""
    start, end = _bounds(window, now)
    where = f"function_id = ? AND {_IN_WINDOW}"
    params = [function_id, start, end]
    row = conn.execute(f"SELECT {_FIGURES} FROM executions WHERE {where}", params).fetchone()
    assert row is not None  # an aggregate without GROUP BY always answers one row
    report = {"function_id": function_id, **_window_json(window, start, end), **_figures(row)}
    minutes = window_minutes(window)
    report["throughput"] = {
        "avg_per_minute": round(report["invocations"] / minutes, 6),
        "avg_per_hour": round(report["invocations"] / (minutes / 60), 6),
        "peak_per_minute": _peak_per_minute(conn, where, params),
        "per_minute": _buckets(conn, where, params, "minute", max(start, end - MINUTE_SPAN), end),
        "per_hour": _buckets(conn, where, params, "hour", start, end),
    }
    report["top_errors"] = top_errors(conn, where, params)
    return report


def window_minutes(window: str) -> float:
    """The window's length in minutes."""
    return WINDOWS[window].total_seconds() / 60


def _peak_per_minute(conn: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> int:
    row = conn.execute(
        "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM executions "
        f"WHERE {where} GROUP BY date_trunc('minute', created_at))",
        params,
    ).fetchone()
    return int(row[0]) if row else 0


def _buckets(
    conn: duckdb.DuckDBPyConnection,
    where: str,
    params: list[Any],
    unit: str,
    start: dt.datetime,
    end: dt.datetime,
) -> list[dict[str, int | None]]:
    """Dense `unit` buckets from the one holding `start` to the one holding `end`."""
    rows = conn.execute(
        f"SELECT date_trunc('{unit}', created_at) AS b, count(*), "
        "count(*) FILTER (status = 'error') FROM executions "
        f"WHERE {where} AND created_at > ? GROUP BY b",
        [*params, start],
    ).fetchall()
    counts = {b: (n, e) for b, n, e in rows}
    step = dt.timedelta(minutes=1) if unit == "minute" else dt.timedelta(hours=1)
    bucket = _truncate(start, unit)
    out: list[dict[str, int | None]] = []
    while bucket <= end:
        n, e = counts.get(bucket, (0, 0))
        out.append({"start": _unix(bucket), "invocations": n, "errors": e})
        bucket += step
    return out


def _truncate(value: dt.datetime, unit: str) -> dt.datetime:
    value = value.replace(second=0, microsecond=0)
    return value.replace(minute=0) if unit == "hour" else value


def top_errors(
    conn: duckdb.DuckDBPyConnection, where: str, params: list[Any], limit: int = TOP_ERRORS
) -> list[dict[str, Any]]:
    """The most frequent error messages among the executions matching `where`."""
    rows = conn.execute(
        "SELECT coalesce(error_message, '') AS message, count(*) AS n, "
        "arg_max(id, (created_at, id)), max(created_at) FROM executions "
        f"WHERE {where} AND status = 'error' GROUP BY message ORDER BY n DESC, message LIMIT ?",
        [*params, limit],
    ).fetchall()
    return [
        {
            "message": message,
            "count": n,
            "latest_execution_id": latest_id,
            "latest_at": _unix(latest_at),
        }
        for message, n, latest_id, latest_at in rows
    ]


def overview(conn: duckdb.DuckDBPyConnection, window: str, now: float) -> dict[str, Any]:
    """Every function with executions in the window (busiest first) and platform totals."""
    start, end = _bounds(window, now)
    rows = conn.execute(
        f"SELECT function_id, {_FIGURES} FROM executions WHERE {_IN_WINDOW} "
        "GROUP BY GROUPING SETS ((function_id), ())",
        [start, end],
    ).fetchall()
    totals = _figures((0, 0, None, None, None, 0, 0, None))
    functions = []
    for function_id, *figures in rows:
        if function_id is None:
            totals = _figures(tuple(figures))
        else:
            functions.append({"function_id": function_id, **_figures(tuple(figures))})
    functions.sort(key=lambda f: (-f["invocations"], f["function_id"]))
    totals["functions"] = len(functions)
    totals["top_errors"] = top_errors(conn, _IN_WINDOW, [start, end])
    return {**_window_json(window, start, end), "functions": functions, "totals": totals}
