"""`lunar analytics ...`: reports and read-only SQL over a running server's execution records.

(For a stopped daemon's files, `lunard analytics --data-dir DIR` reads them directly.)
"""

from __future__ import annotations

import click

from lunard.client import analytics_views
from lunard.client.context import AppContext, LunarGroup, pass_app
from lunard.client.inputs import TEXT_SOURCE

WINDOWS = ("1h", "24h", "7d", "30d")


def window_option(func: click.decorators.FC) -> click.decorators.FC:
    """`--window`, one of the server's report windows."""
    return click.option(
        "--window",
        type=click.Choice(WINDOWS),
        default="24h",
        show_default=True,
        help="how far back the report looks",
    )(func)


@click.group("analytics", cls=LunarGroup)
def group() -> None:
    """Reports and SQL over execution records (slow, failing and busy functions)."""


@group.command("overview")
@window_option
@pass_app
def overview(app: AppContext, window: str) -> None:
    """Every function's calls, errors and latencies over a window, busiest first."""
    app.out.emit(app.api.analytics_overview(window), analytics_views.overview)


@group.command("function")
@click.argument("function_id")
@window_option
@pass_app
def function(app: AppContext, function_id: str, window: str) -> None:
    """One function's figures, throughput and top errors over a window."""
    report = app.api.function_analytics(function_id, window)
    app.out.emit(report, analytics_views.function_report)


@group.command("query")
@click.argument("sql", type=TEXT_SOURCE)
@click.option("--limit", type=click.IntRange(1, 10_000), help="most rows returned [server: 1000]")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="seconds the query may run [server: 10]",
)
@pass_app
def query(app: AppContext, sql: str, limit: int | None, timeout: float | None) -> None:
    """Run one read-only SELECT (text, '-' for stdin, or @FILE) over executions, logs,
    ai_requests and email_requests."""
    result = app.api.analytics_query(sql, limit, timeout)
    app.out.emit(result, analytics_views.query_result)
