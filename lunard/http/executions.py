"""Execution records: lists per function, one execution, its logs, AI and email calls.

Records live in DuckDB, owned by the sink actor; every read goes through a `SinkQuery`,
which the sink answers after flushing (read-your-writes, http-api §5.22–5.26). With
`records_url` they live in PostgreSQL (`lunard.records.pg_sink`): the same messages, the
reads of `lunard.records.pg_store` (the same functions and JSON shapes as `store`), and every
node lists the records any node committed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from quart import Blueprint, Response

from lunard.errors import InternalError, NotFound
from lunard.http.auth import require_auth
from lunard.http.deps import deps
from lunard.http.responses import json_response, page_params, pagination
from lunard.records import sink, store
from lunard.state.runtime import function_exists

if TYPE_CHECKING:
    from types import ModuleType

bp = Blueprint("executions", __name__)

EXECUTION_NOT_FOUND = "Execution not found"
Page = tuple[list[dict[str, Any]], int]


def _reads() -> ModuleType:
    """The read functions for where the records are: `store` (DuckDB) or `pg_store`."""
    if deps().config.records_url:
        from lunard.records import pg_store  # only a cluster node loads it

        return pg_store
    return store


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
    reads = _reads()
    items, total = await _records(
        lambda conn: reads.list_executions(conn, function_id, limit, offset)
    )
    return json_response({"executions": items, "pagination": pagination(total, limit, offset)})


@bp.get("/api/executions/<execution_id>")
@require_auth
async def get_execution(execution_id: str) -> Response:
    """One execution, with `response_json` when it was saved."""
    reads = _reads()
    item = await _records(lambda conn: reads.get_execution(conn, execution_id))
    if item is None:
        raise NotFound(EXECUTION_NOT_FOUND)
    return json_response(item)


@bp.get("/api/executions/<execution_id>/logs")
@require_auth
async def execution_logs(execution_id: str) -> Response:
    """The execution's fields at top level plus its logs, oldest first, paginated."""
    limit, offset = page_params()
    reads = _reads()

    def read(conn: Any) -> tuple[dict[str, Any] | None, Page]:
        item = reads.get_execution(conn, execution_id)
        if item is None:
            return None, ([], 0)
        return item, reads.list_logs(conn, execution_id, limit, offset)

    item, (logs, total) = await _records(read)
    if item is None:
        raise NotFound(EXECUTION_NOT_FOUND)
    return json_response({**item, "logs": logs, "pagination": pagination(total, limit, offset)})


async def _tracked(execution_id: str, key: str, lister_name: str) -> Response:
    limit, offset = page_params()
    reads = _reads()
    lister: Callable[[Any, str, int, int], Page] = getattr(reads, lister_name)

    def read(conn: Any) -> Page | None:
        if not reads.execution_exists(conn, execution_id):
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
    return await _tracked(execution_id, "ai_requests", "list_ai_requests")


@bp.get("/api/executions/<execution_id>/email-requests")
@require_auth
async def execution_email_requests(execution_id: str) -> Response:
    """Tracked `email.send` calls of an execution, oldest first, paginated."""
    return await _tracked(execution_id, "email_requests", "list_email_requests")
