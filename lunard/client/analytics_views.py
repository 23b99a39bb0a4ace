"""Table views of the analytics reports and query results (`lunar analytics ...`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from rich.console import RenderableType
from rich.text import Text

from lunard.client.output import fmt_time
from lunard.client.views import cell, table

FIGURES = ("calls", "errors", "err %", "p50 ms", "p95 ms", "p99 ms", "max ms", "http", "cron")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _number(value: Any) -> Text:
    if isinstance(value, float):
        value = f"{value:.4g}" if abs(value) < 1 else f"{value:,.2f}".rstrip("0").rstrip(".")
    return cell(value)


def _figures(row: Mapping[str, Any]) -> list[Text]:
    durations = row.get("duration_ms") or {}
    triggers = row.get("triggers") or {}
    values = [
        row.get("invocations"),
        row.get("errors"),
        round(float(row.get("error_rate") or 0) * 100, 2),
        durations.get("p50"),
        durations.get("p95"),
        durations.get("p99"),
        durations.get("max"),
        triggers.get("http"),
        triggers.get("cron"),
    ]
    return [_number(v) for v in values]


def _numeric_table(*columns: str, numeric_from: int) -> Any:
    t = table(*columns)
    for column in t.columns[numeric_from:]:
        column.justify = "right"
    return t


def top_errors(errors: Sequence[Mapping[str, Any]]) -> RenderableType:
    """The most frequent error messages, with their latest execution."""
    if not errors:
        return Text("no errors", style="dim")
    t = table("count", "latest execution", "error", title="top errors")
    for e in errors:
        message = str(e.get("message") or "").strip().splitlines()
        t.add_row(
            cell(e.get("count")),
            cell(e.get("latest_execution_id")),
            cell(message[0][:100] if message else ""),
        )
    return t


def _window(data: Mapping[str, Any]) -> Text:
    return Text(f"window {data.get('window')}, until {fmt_time(data.get('to'))}", style="bold")


def overview(data: Mapping[str, Any]) -> Iterator[RenderableType]:
    """Every function's figures, busiest first, and the platform totals."""
    yield _window(data)
    t = _numeric_table("function", "name", *FIGURES, numeric_from=2)
    for fn in data.get("functions") or []:
        t.add_row(cell(fn.get("function_id")), cell(fn.get("name")), *_figures(fn))
    totals = data.get("totals") or {}
    t.add_row(
        Text("TOTAL", style="bold"),
        cell(_plural(totals.get("functions", 0), "function")),
        *_figures(totals),
    )
    yield t
    yield top_errors(totals.get("top_errors") or [])


def function_report(data: Mapping[str, Any]) -> Iterator[RenderableType]:
    """One function's figures, throughput, busy hours and top errors."""
    yield _window(data)
    t = _numeric_table("function", *FIGURES, numeric_from=1)
    t.add_row(cell(data.get("function_id")), *_figures(data))
    yield t
    throughput = data.get("throughput") or {}
    rates = _numeric_table("avg/min", "avg/hour", "peak/min", numeric_from=0)
    rates.add_row(
        _number(throughput.get("avg_per_minute")),
        _number(throughput.get("avg_per_hour")),
        _number(throughput.get("peak_per_minute")),
    )
    yield rates
    busy = [b for b in throughput.get("per_hour") or [] if b.get("invocations")]
    if busy:
        hours = _numeric_table("hour", "calls", "errors", numeric_from=1)
        for bucket in busy:
            hours.add_row(
                cell(fmt_time(bucket.get("start"))[:16]),
                _number(bucket.get("invocations")),
                _number(bucket.get("errors")),
            )
        yield hours
    yield top_errors(data.get("top_errors") or [])


def query_result(data: Mapping[str, Any]) -> Iterator[RenderableType]:
    """The rows of a query under their column names, with a row count."""
    names = [str(c.get("name")) for c in data.get("columns") or []]
    t = table(*names)
    for row in data.get("rows") or []:
        t.add_row(*[_number(v) for v in row])
    yield t
    truncated = ", truncated" if data.get("truncated") else ""
    yield Text(f"({_plural(data.get('row_count', 0), 'row')}{truncated})", style="dim")
