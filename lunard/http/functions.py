"""Routes: functions CRUD, env vars, KV and next-run (http-api §5.9–5.16).

Bodies are type-checked first (a mismatch is 400 `Invalid request body`, like upstream's
decoder), then validated (400 `<field>: <message>`), and only then is the function looked
up, so a bad body for an unknown id is still a 400. Every write is one state transaction.

`max_concurrency` is lunard's own field (DECISIONS 17, no upstream counterpart): the
workers the function's calls may hold at once, 0 to refuse its runs (429 on `/fn`), `null`
for no cap. Unlike upstream's fields, an explicit `null` is not "absent": it clears the cap.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from quart import Blueprint, Response

from lunard import cron
from lunard.errors import BadRequest, InternalError, ValidationError
from lunard.http.auth import require_auth
from lunard.http.deps import deps
from lunard.http.notify import delete_records, notify_scheduler
from lunard.http.responses import (
    INVALID_BODY,
    empty_response,
    json_response,
    optional_field,
    page_params,
    pagination,
    read_json_object,
)
from lunard.messages import DeleteRecords
from lunard.state import functions as store
from lunard.validation import (
    FunctionUpdate,
    validate_create,
    validate_env_vars,
    validate_kv_entries,
    validate_update,
)

bp = Blueprint("functions", __name__)


# --------------------------------------------------------------------------- body helpers


def go_string(text: str) -> str:
    """Lone surrogates become U+FFFD, as Go's JSON decoder does (SQLite cannot store them)."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def string_field(data: dict[str, Any], name: str) -> str | None:
    """An optional string field; null is absent, another type is `Invalid request body`."""
    value = optional_field(data, name, str)
    return None if value is None else go_string(value)


def _plain_string(value: Any) -> str:
    """A string inside a map or pair: null is Go's zero value `""`; other types are 400."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(INVALID_BODY)
    return go_string(value)


def parse_update(data: dict[str, Any]) -> FunctionUpdate:
    """The typed fields of an update body (no validation yet)."""
    return FunctionUpdate(
        name=string_field(data, "name"),
        description=string_field(data, "description"),
        code=string_field(data, "code"),
        disabled=optional_field(data, "disabled", bool),
        retention_days=optional_field(data, "retention_days", int),
        cron_schedule=string_field(data, "cron_schedule"),
        cron_status=string_field(data, "cron_status"),
        save_response=optional_field(data, "save_response", bool),
    )


def parse_max_concurrency(data: dict[str, Any]) -> store.ConcurrencyLimit | None:
    """`max_concurrency` when the body has the key (an explicit null is "no cap"), else
    None; only type-checked here."""
    if "max_concurrency" not in data:
        return None
    return store.ConcurrencyLimit(optional_field(data, "max_concurrency", int))


def validate_max_concurrency(limit: store.ConcurrencyLimit | None) -> None:
    """0 to MAX_CONCURRENCY_LIMIT, or null."""
    if limit is None or limit.value is None:
        return
    highest = store.MAX_CONCURRENCY_LIMIT
    if not 0 <= limit.value <= highest:
        raise ValidationError(
            "max_concurrency",
            f"max_concurrency must be between 0 and {highest}, or null for no limit",
        )


def validate_changes(update: FunctionUpdate, limit: store.ConcurrencyLimit | None) -> None:
    """An update body: upstream's rules, then ours; `max_concurrency` alone is a change."""
    if limit is None or not update.is_empty():
        validate_update(update)
    validate_max_concurrency(limit)


def parse_env(data: dict[str, Any]) -> dict[str, str] | None:
    """`env_vars` as a str->str map, None when absent or null."""
    raw = data.get("env_vars")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise BadRequest(INVALID_BODY)
    return {go_string(key): _plain_string(value) for key, value in raw.items()}


def parse_kv(data: dict[str, Any]) -> tuple[bool, list[tuple[str, str]] | None]:
    """`(global, kvEntries)`; entries None when absent or null."""
    global_scope = bool(optional_field(data, "global", bool))
    raw = data.get("kvEntries")
    if raw is None:
        return global_scope, None
    if not isinstance(raw, list):
        raise BadRequest(INVALID_BODY)
    entries: list[tuple[str, str]] = []
    for item in raw:
        pair = {} if item is None else item
        if not isinstance(pair, dict):
            raise BadRequest(INVALID_BODY)
        entries.append((_plain_string(pair.get("key")), _plain_string(pair.get("value"))))
    return global_scope, entries


# --------------------------------------------------------------------------- routes


@bp.post("/api/functions")
@require_auth
async def create_function() -> Response:
    """Create a function with version 1 active; 200 with the function."""
    data = await read_json_object()
    name = string_field(data, "name") or ""
    description = string_field(data, "description")
    code = string_field(data, "code") or ""
    limit = parse_max_concurrency(data)
    validate_create(name, description, code)
    validate_max_concurrency(limit)
    max_concurrency = None if limit is None else limit.value
    created = await deps().state.call(
        lambda c: store.create_function(c, name, description, code, max_concurrency)
    )
    notify_scheduler(created["id"])
    return json_response(created)


@bp.get("/api/functions")
@require_auth
async def list_functions() -> Response:
    """Functions newest first, paginated; env and KV are not included."""
    limit, offset = page_params()
    items, total = await deps().state.call(lambda c: store.list_functions(c, limit, offset))
    return json_response({"functions": items, "pagination": pagination(total, limit, offset)})


@bp.get("/api/functions/<function_id>")
@require_auth
async def get_function(function_id: str) -> Response:
    """One function with its env vars, its KV entries and the global KV entries."""
    return json_response(await deps().state.call(lambda c: store.get_function(c, function_id)))


@bp.put("/api/functions/<function_id>")
@require_auth
async def update_function(function_id: str) -> Response:
    """Partial update; `code` adds an active version. 200 with an empty body."""
    data = await read_json_object()
    update = parse_update(data)
    limit = parse_max_concurrency(data)
    validate_changes(update, limit)
    # /fn's in-memory view notices the commit itself (state.runtime.RuntimeView).
    await deps().state.call(lambda c: store.update_function(c, function_id, update, limit))
    if update.touches_schedule():
        notify_scheduler(function_id)
    return empty_response(200)


@bp.delete("/api/functions/<function_id>")
@require_auth
async def delete_function(function_id: str) -> Response:
    """Delete a function, its versions and (through the sink) its executions; 204."""
    await deps().state.call(lambda c: store.delete_function(c, function_id))
    notify_scheduler(function_id)
    await delete_records(DeleteRecords(function_id=function_id))
    return empty_response(204)


@bp.put("/api/functions/<function_id>/env")
@require_auth
async def replace_env(function_id: str) -> Response:
    """Replace the function's env vars; 200 with the active version."""
    env = parse_env(await read_json_object())
    validate_env_vars(env)
    assert env is not None  # validate_env_vars rejects None
    version = await deps().state.call(lambda c: store.replace_env(c, function_id, env))
    if version is None:
        raise InternalError("Failed to get active version")
    return json_response(version)


@bp.post("/api/functions/<function_id>/kv")
@require_auth
async def replace_kv(function_id: str) -> Response:
    """Replace one KV scope (the function's or the global one); 200 with the active version."""
    global_scope, entries = parse_kv(await read_json_object())
    validate_kv_entries(entries)
    assert entries is not None  # validate_kv_entries rejects None
    version = await deps().state.call(
        lambda c: store.replace_kv(c, function_id, entries, global_scope=global_scope)
    )
    if version is None:
        raise InternalError("Failed to get active version")
    return json_response(version)


@bp.get("/api/functions/<function_id>/next-run")
@require_auth
async def next_run(function_id: str) -> Response:
    """The function's schedule and, when active, its next fire time (platform §1.7)."""
    schedule, status = await deps().state.call(lambda c: store.schedule_of(c, function_id))
    return json_response(next_run_body(schedule, status, datetime.now(UTC), deps().config.timezone))


def next_run_body(
    schedule: str | None, status: str | None, now: datetime, timezone: str
) -> dict[str, Any]:
    """The NextRunResponse for a stored schedule at `now`; 400 if an active one is invalid."""
    if not schedule:
        return {"has_schedule": False}
    body: dict[str, Any] = {"has_schedule": True, "cron_schedule": schedule}
    if status is not None:
        body["cron_status"] = status
    if status != "active":
        body["is_paused"] = True
        return body
    try:
        fire = cron.next_fire(schedule, now, timezone)
    except cron.CronError:
        raise BadRequest("Invalid cron schedule") from None
    body["next_run"] = int(fire.timestamp())
    body["next_run_human"] = cron.next_run_human(fire, now)
    return body
