"""Execution records: lists per function, one execution, its logs, AI and email calls.

Records live in DuckDB, owned by the sink actor; every read goes through a `SinkQuery`,
which the sink answers after flushing (read-your-writes, http-api §5.22–5.26).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from quart import Blueprint, Response

from lunard.errors import InternalError, NotFound
from lunard.http.auth import require_auth
from lunard.http.deps import deps
from lunard.http.responses import json_response, page_params, pagination
from lunard.records import sink, store
from lunard.state.runtime import function_exists

bp = Blueprint("executions", __name__)

EXECUTION_NOT_FOUND = "Execution not found"
Page = tuple[list[dict[str, Any]], int]


async def _records(fn: Callable[[Any], Any]) -> Any:
    inbox = deps().sink
    if inbox is None:
        raise InternalError("Execution records are not available")
    return await sink.query(inbox, fn)


@bp.get("/api/functions/<function_id>/executions")
@require_auth
async def list_function_executions(function_id: str) -> Response:
    """A function's executions, newest first, paginated."""
    if not deps().state.read(lambda conn: function_exists(conn, function_id)):
        raise NotFound("Function not found")
    limit, offset = page_params()
    items, total = await _records(
        lambda conn: store.list_executions(conn, function_id, limit, offset)
    )
    return json_response({"executions": items, "pagination": pagination(total, limit, offset)})


@bp.get("/api/executions/<execution_id>")
@require_auth
async def get_execution(execution_id: str) -> Response:
    """One execution, with `response_json` when it was saved."""
    item = await _records(lambda conn: store.get_execution(conn, execution_id))
    if item is None:
        raise NotFound(EXECUTION_NOT_FOUND)
    return json_response(item)


@bp.get("/api/executions/<execution_id>/logs")
@require_auth
async def execution_logs(execution_id: str) -> Response:
    """The execution's fields at top level plus its logs, oldest first, paginated."""
    limit, offset = page_params()

    def read(conn: Any) -> tuple[dict[str, Any] | None, Page]:
        item = store.get_execution(conn, execution_id)
        if item is None:
            return None, ([], 0)
        return item, store.list_logs(conn, execution_id, limit, offset)

    item, (logs, total) = await _records(read)
    if item is None:
        raise NotFound(EXECUTION_NOT_FOUND)
    return json_response({**item, "logs": logs, "pagination": pagination(total, limit, offset)})


async def _tracked(
    execution_id: str, key: str, lister: Callable[[Any, str, int, int], Page]
) -> Response:
    limit, offset = page_params()

    def read(conn: Any) -> Page | None:
        if not store.execution_exists(conn, execution_id):
            return None
        return lister(conn, execution_id, limit, offset)

    page = await _records(read)
    if page is None:
        raise NotFound(EXECUTION_NOT_FOUND)
    items, total = page
    return json_response({key: items, "pagination": pagination(total, limit, offset)})


@bp.get("/api/executions/<execution_id>/ai-requests")
@require_auth
async def execution_ai_requests(execution_id: str) -> Response:
    """Tracked `ai.chat` calls of an execution, oldest first, paginated."""
    return await _tracked(execution_id, "ai_requests", store.list_ai_requests)


@bp.get("/api/executions/<execution_id>/email-requests")
@require_auth
async def execution_email_requests(execution_id: str) -> Response:
    """Tracked `email.send` calls of an execution, oldest first, paginated."""
    return await _tracked(execution_id, "email_requests", store.list_email_requests)
