"""`lunar logs FUNCTION_ID`: recent executions with their log lines; `--follow` keeps polling.

Table mode prints one summary line per execution and its log lines under it; `--output
json` prints one JSON object per execution per line (the API's `executions/{id}/logs`
answer without `pagination`), a stream `jq` can read. Ctrl+C ends `--follow` with exit 0.
"""

from __future__ import annotations

import time
from typing import Any

import click
from rich.text import Text

from lunard.client import views
from lunard.client.context import AppContext, pass_app
from lunard.client.errors import ConnectionFailed
from lunard.client.inputs import DURATION
from lunard.client.logs import LEVELS, Tail, full_logs
from lunard.client.output import Output, fmt_ms, fmt_time


def show(out: Output, record: dict[str, Any]) -> None:
    """One execution and its log lines."""
    if out.json:
        out.print_json(record, compact=True)
        return
    header = Text(f"{fmt_time(record.get('created_at'))}  {record.get('id')}  ")
    header.append_text(views.status_cell(record.get("status")))
    header.append(f"  {record.get('trigger')}  {fmt_ms(record.get('duration_ms'))}")
    error = str(record.get("error_message") or "").strip()
    if error:
        header.append(f"  {error.splitlines()[0]}", style="red")
    out.console.print(header)
    for line in views.log_lines(record.get("logs") or [], indent="  "):
        out.console.print(line)


def follow(app: AppContext, tail: Tail, level: str | None, interval: float) -> None:
    """Poll for new executions until interrupted; the connection may come and go."""
    lost = False
    while True:
        time.sleep(interval)
        try:
            fresh = tail.fetch()
            records = [full_logs(app.api, str(ex["id"]), level) for ex in fresh]
        except ConnectionFailed as exc:
            if not lost:
                app.out.note(f"{exc.message} (retrying)")
            lost = True
            continue
        if lost:
            app.out.note("reconnected")
            lost = False
        for record in records:
            show(app.out, record)


@click.command("logs")
@click.argument("function_id")
@click.option("-f", "--follow", "following", is_flag=True, help="keep printing new executions")
@click.option("--since", type=DURATION, help="executions of the last DURATION (30s, 10m, 2h, 7d)")
@click.option("--level", type=click.Choice(LEVELS), help="only log lines at this level or above")
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="how many recent executions (without --since)",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.05),
    default=1.0,
    show_default=True,
    help="seconds between polls with --follow",
)
@pass_app
def logs(
    app: AppContext,
    function_id: str,
    following: bool,
    since: float | None,
    level: str | None,
    limit: int,
    interval: float,
) -> None:
    """Show a function's executions with their log lines, newest last."""
    api = app.api
    api.get_function(function_id)  # a clear 404 for a wrong id, before any waiting
    tail = Tail(api, function_id, since=None if since is None else time.time() - since)
    shown = tail.fetch(limit=None if since is not None else limit)
    for ex in shown:
        show(app.out, full_logs(api, str(ex["id"]), level))
    if not following:
        return
    tail.start_following(shown)
    try:
        follow(app, tail, level, interval)
    except KeyboardInterrupt:
        return
