"""`GET /metrics`: Prometheus text exposition format 0.0.4 (admin auth, like the API).

Upstream Lunar has no metrics. lunard serves them behind the same authentication as the API
(the admin key or an API token as `Authorization: Bearer`; Prometheus: `authorization:
{credentials_file: ...}`), because the labels name every function.

Series:
- `lunard_executions_total{function_id,trigger,status}` (counter)
- `lunard_execution_errors_total{function_id}` (counter)
- `lunard_execution_duration_seconds{function_id}` (histogram: `_bucket`, `_sum`, `_count`)
- `lunard_metrics_start_time_seconds` (gauge: when this daemon began counting)
- `lunard_pool_queue_depth`, `lunard_pool_busy_workers` (gauges; only when the pool reports)

Semantics: the counters count executions *recorded since this daemon started* (created at or
after `lunard_metrics_start_time_seconds`), so they are monotonic and reset on restart, as
Prometheus expects. They are computed from the execution records on scrape, without
touching the pool: executions older than `settle` seconds (execution timeout + a minute, so
no record can still be on its way) are folded once into in-memory totals, and only the
recent tail is re-read on each scrape (a cheap range scan). Retention deleting old records
therefore never makes a counter go down.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import trio
from quart import Blueprint, Response, current_app
from quart.blueprints import BlueprintSetupState

from lunard.errors import InternalError
from lunard.http.auth import require_auth
from lunard.http.deps import deps
from lunard.records import sql_runner

bp = Blueprint("metrics", __name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Histogram bucket bounds in milliseconds (rendered as seconds).
BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000)
SETTLE_MARGIN_S = 60
_STATE_KEY = "lunard.metrics"

Key = tuple[str, str, str]  # function_id, trigger, status


@dataclass
class Series:
    """Counts of one (function, trigger, status): executions, summed ms, cumulative buckets."""

    count: int = 0
    sum_ms: int = 0
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS_MS))

    def add(self, other: Series) -> None:
        self.count += other.count
        self.sum_ms += other.sum_ms
        self.buckets = [a + b for a, b in zip(self.buckets, other.buckets, strict=True)]


@dataclass
class MetricsState:
    """What one daemon has counted so far: totals of executions created in
    `[started, settled_until)`. Lives in the app's extensions, not in a module global.
    """

    started: dt.datetime
    settled_until: dt.datetime
    settled: dict[Key, Series] = field(default_factory=dict)
    # One scrape folds at a time, so nothing is folded twice.
    lock: trio.Lock = field(default_factory=trio.Lock)

    @classmethod
    def starting_at(cls, now: float) -> MetricsState:
        start = _utc(now)
        return cls(started=start, settled_until=start)


def _utc(now: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(now, dt.UTC).replace(tzinfo=None)


_SERIES_SQL = (
    'SELECT function_id, "trigger", status::VARCHAR, count(*), coalesce(sum(duration_ms), 0), '
    + ", ".join(f"count(*) FILTER (duration_ms <= {b})" for b in BUCKETS_MS)
    + " FROM executions WHERE created_at >= ? {upper} GROUP BY ALL"
)


def _read_series(conn: Any, lower: dt.datetime, upper: dt.datetime | None) -> dict[Key, Series]:
    sql = _SERIES_SQL.format(upper="" if upper is None else "AND created_at < ?")
    params: list[Any] = [lower] if upper is None else [lower, upper]
    out: dict[Key, Series] = {}
    for function_id, trigger, status, count, sum_ms, *buckets in conn.execute(
        sql, params
    ).fetchall():
        out[(function_id, trigger, status)] = Series(int(count), int(sum_ms), list(buckets))
    return out


def collect(conn: Any, state: MetricsState, now: float, settle: float) -> dict[Key, Series]:
    """Fold executions older than `now - settle` into `state`; return settled + recent."""
    settle_to = max(state.settled_until, _utc(now - settle))
    if settle_to > state.settled_until:
        for key, series in _read_series(conn, state.settled_until, settle_to).items():
            state.settled.setdefault(key, Series()).add(series)
        state.settled_until = settle_to
    totals: dict[Key, Series] = {}
    for source in (state.settled, _read_series(conn, state.settled_until, None)):
        for key, series in source.items():
            totals.setdefault(key, Series()).add(series)
    return totals


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def render(series: dict[Key, Series], started: dt.datetime, pool_stats: Any = None) -> str:
    """The exposition text for these series, the start time and the pool's gauges."""
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str, samples: Iterable[str]) -> None:
        lines.extend([f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *samples])

    ordered = sorted(series.items())
    family(
        "lunard_executions_total",
        "counter",
        "Executions recorded since this daemon started, by function, trigger and status.",
        (
            f'lunard_executions_total{{function_id="{_label(f)}",trigger="{_label(t)}",'
            f'status="{_label(s)}"}} {v.count}'
            for (f, t, s), v in ordered
        ),
    )
    per_function: dict[str, Series] = {}
    errors: dict[str, int] = {}
    for (function_id, _, status), value in ordered:
        per_function.setdefault(function_id, Series()).add(value)
        errors[function_id] = errors.get(function_id, 0) + (value.count if status == "error" else 0)
    family(
        "lunard_execution_errors_total",
        "counter",
        "Executions that ended in an error since this daemon started, by function.",
        (
            f'lunard_execution_errors_total{{function_id="{_label(f)}"}} {n}'
            for f, n in errors.items()
        ),
    )
    family(
        "lunard_execution_duration_seconds",
        "histogram",
        "Execution wall-clock duration since this daemon started, by function.",
        _histogram_samples(per_function),
    )
    started_at = started.replace(tzinfo=dt.UTC).timestamp()
    family(
        "lunard_metrics_start_time_seconds",
        "gauge",
        "Unix time from which the execution counters count.",
        [f"lunard_metrics_start_time_seconds {_number(started_at)}"],
    )
    if pool_stats is not None:
        for name, attribute, help_text in (
            ("lunard_pool_queue_depth", "queue_depth", "Executions waiting for a worker."),
            ("lunard_pool_busy_workers", "busy_workers", "Workers running an execution now."),
        ):
            family(name, "gauge", help_text, [f"{name} {_number(_gauge(pool_stats, attribute))}"])
    return "\n".join(lines) + "\n"


def _gauge(source: Any, attribute: str) -> float:
    value = getattr(source, attribute)
    return float(value() if callable(value) else value)


def _histogram_samples(per_function: dict[str, Series]) -> Iterable[str]:
    name = "lunard_execution_duration_seconds"
    for function_id, value in per_function.items():
        fid = _label(function_id)
        for bound, count in zip(BUCKETS_MS, value.buckets, strict=True):
            yield f'{name}_bucket{{function_id="{fid}",le="{_number(bound / 1000)}"}} {count}'
        yield f'{name}_bucket{{function_id="{fid}",le="+Inf"}} {value.count}'
        yield f'{name}_sum{{function_id="{fid}"}} {_number(value.sum_ms / 1000)}'
        yield f'{name}_count{{function_id="{fid}"}} {value.count}'


@bp.record_once
def _start_counting(setup: BlueprintSetupState) -> None:
    setup.app.extensions[_STATE_KEY] = MetricsState.starting_at(time.time())


@bp.get("/metrics")
@require_auth
async def metrics() -> Response:
    """The Prometheus exposition of execution counters, durations and pool gauges."""
    d = deps()
    if d.sink is None:
        raise InternalError("Execution records are not available")
    state: MetricsState = current_app.extensions[_STATE_KEY]
    settle = d.config.timeout_seconds + SETTLE_MARGIN_S
    now = time.time()
    if d.config.records_url:
        # Records on PostgreSQL are every node's: counting them here would count the
        # cluster on each node. Until the lake exporter, a cluster node exposes its pool
        # gauges only (per node, which is what a scrape of one node should say).
        series: dict[Key, Series] = {}
    else:
        async with state.lock:
            series = await sql_runner.on_cursor(
                d.sink, lambda conn: collect(conn, state, now, settle)
            )
    body = render(series, state.started, d.pool_stats)
    return Response(body, status=200, content_type=CONTENT_TYPE)
