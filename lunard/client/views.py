"""Table views of the API's resources (the default, human output).

Each view takes the JSON the server answered and yields Rich renderables. User data goes
into `Text` cells, never into markup, so a function named `[red]x` prints as typed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from lunard.client.output import fmt_ms, fmt_time

STATUS_STYLE = {"success": "green", "error": "red", "pending": "yellow"}
LEVEL_STYLE = {"debug": "dim", "info": "", "warn": "yellow", "error": "red"}


# --------------------------------------------------------------------------- building blocks


def cell(value: Any, style: str = "") -> Text:
    """A table cell: `-` for None, JSON for containers, the text itself otherwise."""
    if value is None:
        return Text("-", style="dim")
    if isinstance(value, bool):
        return Text("yes" if value else "no", style=style)
    if isinstance(value, dict | list):
        return Text(json.dumps(value, ensure_ascii=False), style=style)
    return Text(str(value), style=style)


def table(*columns: str, title: str | None = None) -> Table:
    """A plain table with bold headers and no outer frame."""
    t = Table(
        box=box.SIMPLE_HEAD, title=title, title_justify="left", pad_edge=False, show_edge=False
    )
    for column in columns:
        t.add_column(column, overflow="fold")
    return t


def fields(rows: Iterable[tuple[str, Any]], title: str | None = None) -> Table:
    """A two-column `field  value` table."""
    t = Table(box=None, show_header=False, title=title, title_justify="left", pad_edge=False)
    t.add_column(style="bold")
    t.add_column(overflow="fold")
    for name, value in rows:
        t.add_row(name, value if isinstance(value, Text) else cell(value))
    return t


def mapping(title: str, values: Mapping[str, Any] | None) -> RenderableType:
    """A `key  value` table for env vars and KV data, or a one-line `(none)`."""
    if not values:
        return Text(f"{title}: (none)", style="dim")
    t = table("key", "value", title=title)
    for key in sorted(values):
        t.add_row(cell(key), cell(values[key]))
    return t


def page_footer(data: Mapping[str, Any], shown: int) -> Text:
    """`1-20 of 42` under a paginated list, with the option for the next page."""
    page = data.get("pagination") or {}
    total, offset = page.get("total", shown), page.get("offset", 0)
    if total == 0:
        return Text("none", style="dim")
    if not shown:
        text = f"none at offset {offset} (total {total})"
    elif offset == 0 and shown == total:
        text = f"{total} in all"
    else:
        text = f"{offset + 1}-{offset + shown} of {total}"
    if shown and offset + shown < total:
        text += f"  (next page: --offset {offset + shown})"
    return Text(text, style="dim")


def status_cell(status: Any) -> Text:
    """An execution status, coloured."""
    return cell(status, STATUS_STYLE.get(str(status), ""))


# --------------------------------------------------------------------------- functions


def function_status(fn: Mapping[str, Any]) -> str:
    """`enabled` or `disabled`."""
    return "disabled" if fn.get("disabled") else "enabled"


def _cron(fn: Mapping[str, Any]) -> str | None:
    schedule = fn.get("cron_schedule")
    if not schedule:
        return None
    return f"{schedule} ({fn.get('cron_status') or 'paused'})"


def _active_number(fn: Mapping[str, Any]) -> Any:
    version = fn.get("active_version") or {}
    return version.get("version") or None


def functions_list(data: Mapping[str, Any]) -> Iterator[RenderableType]:
    """Id, name, status, active version, schedule and last change of each function."""
    items = data.get("functions") or []
    t = table("id", "name", "status", "version", "cron", "updated")
    for fn in items:
        status = function_status(fn)
        t.add_row(
            cell(fn.get("id")),
            cell(fn.get("name")),
            cell(status, "red" if status == "disabled" else "green"),
            cell(_active_number(fn)),
            cell(_cron(fn)),
            cell(fmt_time(fn.get("updated_at"))),
        )
    if items:
        yield t
    yield page_footer(data, len(items))


def function_detail(fn: Mapping[str, Any], url: str | None = None) -> Iterator[RenderableType]:
    """Every field of a function but its code (`lunar pull` prints that)."""
    rows: list[tuple[str, Any]] = [
        ("id", fn.get("id")),
        ("name", fn.get("name")),
        ("description", fn.get("description")),
        ("status", function_status(fn)),
        ("version", _active_number(fn)),
        ("cron", _cron(fn)),
        ("retention", f"{fn.get('retention_days') or 7} days"),
        ("save response", bool(fn.get("save_response"))),
        ("created", fmt_time(fn.get("created_at"))),
        ("updated", fmt_time(fn.get("updated_at"))),
    ]
    if "max_concurrency" in fn:
        rows.append(("max concurrency", fn.get("max_concurrency")))
    if url:
        rows.append(("url", url))
    yield fields(rows)
    if fn.get("env_vars") is not None and "scoped_data" in fn:
        yield mapping("env vars", fn.get("env_vars"))
        yield mapping("kv (this function)", fn.get("scoped_data"))
        yield mapping("kv (global)", fn.get("global_data"))


def next_run(data: Mapping[str, Any]) -> Iterator[RenderableType]:
    """The schedule, paused or with its next fire time."""
    if not data.get("has_schedule"):
        yield Text("no schedule")
        return
    rows: list[tuple[str, Any]] = [
        ("schedule", data.get("cron_schedule")),
        ("status", data.get("cron_status") or "paused"),
    ]
    if "next_run" in data:
        when = f"{fmt_time(data['next_run'])} ({data.get('next_run_human')})"
        rows.append(("next run", when))
    yield fields(rows)


# --------------------------------------------------------------------------- versions


def version_row(version: Mapping[str, Any]) -> list[Text]:
    """Number, active mark, id, creation time and size of a version."""
    code = version.get("code") or ""
    return [
        cell(version.get("version")),
        cell("*" if version.get("is_active") else "", "green"),
        cell(version.get("id")),
        cell(fmt_time(version.get("created_at"))),
        cell(f"{len(code.splitlines())} lines"),
    ]


def versions_list(data: Mapping[str, Any]) -> Iterator[RenderableType]:
    """The function's versions, highest first; `*` marks the active one."""
    items = data.get("versions") or []
    t = table("version", "active", "id", "created", "size")
    for version in items:
        t.add_row(*version_row(version))
    if items:
        yield t
    yield page_footer(data, len(items))


def version_detail(version: Mapping[str, Any]) -> Iterator[RenderableType]:
    """A version's fields, then its code."""
    yield fields(
        [
            ("id", version.get("id")),
            ("function", version.get("function_id")),
            ("version", version.get("version")),
            ("active", bool(version.get("is_active"))),
            ("created", fmt_time(version.get("created_at"))),
        ]
    )
    yield Text("")
    yield Text(version.get("code") or "")


def diff_view(data: Mapping[str, Any]) -> Iterator[RenderableType]:
    """A unified-looking diff: `-` removed (red), `+` added (green), ` ` unchanged."""
    yield Text(f"--- v{data.get('old_version')}\n+++ v{data.get('new_version')}", style="bold")
    marks = {"added": ("+", "green"), "removed": ("-", "red"), "unchanged": (" ", "")}
    for line in data.get("diff") or []:
        mark, style = marks.get(line.get("line_type"), ("?", ""))
        yield Text(f"{mark}{line.get('content', '')}", style=style)


# --------------------------------------------------------------------------- executions


def execution_row(ex: Mapping[str, Any]) -> list[Text]:
    """Id, status, trigger, duration, time and error of an execution."""
    error = ex.get("error_message") or ""
    first = error.strip().splitlines()[0] if error.strip() else None
    return [
        cell(ex.get("id")),
        status_cell(ex.get("status")),
        cell(ex.get("trigger")),
        cell(fmt_ms(ex.get("duration_ms"))),
        cell(fmt_time(ex.get("created_at"))),
        cell(first, "red"),
    ]


def executions_list(data: Mapping[str, Any]) -> Iterator[RenderableType]:
    """A function's executions, newest first."""
    items = data.get("executions") or []
    t = table("id", "status", "trigger", "duration", "time", "error")
    for ex in items:
        t.add_row(*execution_row(ex))
    if items:
        yield t
    yield page_footer(data, len(items))


def execution_detail(ex: Mapping[str, Any]) -> Iterator[RenderableType]:
    """An execution's fields, its error and saved response in full."""
    yield fields(
        [
            ("id", ex.get("id")),
            ("function", ex.get("function_id")),
            ("version", ex.get("function_version_id")),
            ("status", status_cell(ex.get("status"))),
            ("trigger", ex.get("trigger")),
            ("duration", fmt_ms(ex.get("duration_ms"))),
            ("time", fmt_time(ex.get("created_at"))),
        ]
    )
    for title, key in (("error", "error_message"), ("event", "event_json")):
        if ex.get(key):
            yield Text(f"\n{title}:", style="bold")
            yield Text(str(ex[key]))
    if ex.get("response_json"):
        yield Text("\nresponse:", style="bold")
        yield Text(str(ex["response_json"]))


def log_lines(logs: Sequence[Mapping[str, Any]], indent: str = "") -> Iterator[Text]:
    """`HH:MM:SS LEVEL message`, one Text per entry, coloured by level."""
    for entry in logs:
        level = str(entry.get("level", "info"))
        stamp = fmt_time(entry.get("created_at"))[-8:]
        line = Text(f"{indent}{stamp} ")
        line.append(f"{level.upper():5}", style=LEVEL_STYLE.get(level, ""))
        line.append(f" {entry.get('message', '')}")
        yield line


def execution_logs(data: Mapping[str, Any]) -> Iterator[RenderableType]:
    """An execution's summary line, then its log lines (oldest first)."""
    t = table("id", "status", "trigger", "duration", "time", "error")
    t.add_row(*execution_row(data))
    yield t
    logs = data.get("logs") or []
    yield from log_lines(logs)
    yield page_footer(data, len(logs))


def ai_requests(data: Mapping[str, Any]) -> Iterator[RenderableType]:
    """Tracked `ai.chat` calls: provider, model, status, tokens, duration."""
    items = data.get("ai_requests") or []
    t = table("id", "provider", "model", "status", "tokens in/out", "duration", "time")
    for r in items:
        tokens = f"{r.get('input_tokens', '-')}/{r.get('output_tokens', '-')}"
        t.add_row(
            cell(r.get("id")),
            cell(r.get("provider")),
            cell(r.get("model")),
            status_cell(r.get("status")),
            cell(tokens),
            cell(fmt_ms(r.get("duration_ms"))),
            cell(fmt_time(r.get("created_at"))),
        )
    if items:
        yield t
    yield page_footer(data, len(items))


def email_requests(data: Mapping[str, Any]) -> Iterator[RenderableType]:
    """Tracked `email.send` calls: recipients, subject, status, duration."""
    items = data.get("email_requests") or []
    t = table("id", "to", "subject", "status", "duration", "time")
    for r in items:
        t.add_row(
            cell(r.get("id")),
            cell(", ".join(r.get("to") or [])),
            cell(r.get("subject")),
            status_cell(r.get("status")),
            cell(fmt_ms(r.get("duration_ms"))),
            cell(fmt_time(r.get("created_at"))),
        )
    if items:
        yield t
    yield page_footer(data, len(items))


# --------------------------------------------------------------------------- tokens


def tokens_list(data: Mapping[str, Any]) -> Iterator[RenderableType]:
    """API tokens, newest first, revoked ones marked."""
    items = data.get("tokens") or []
    if not items:
        yield Text("no API tokens (create one with 'lunar login')", style="dim")
        return
    t = table("id", "name", "created", "last used", "revoked")
    for token in items:
        revoked = bool(token.get("revoked"))
        t.add_row(
            cell(token.get("id")),
            cell(token.get("name")),
            cell(fmt_time(token.get("created_at"))),
            cell(fmt_time(token.get("last_used"))),
            cell(revoked, "red" if revoked else ""),
        )
    yield t
