"""Routes: a function's versions, activation, deletion and diffs (http-api §5.17–5.21).

An unknown function is 404 `Function not found` on every route here; a version addressed
by id through a function that does not own it is 404 `Version not found` (DECISIONS 8).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from quart import Blueprint, Response

from lunard.diff import diff_lines
from lunard.errors import BadRequest, NotFound
from lunard.golang import AtoiError, atoi
from lunard.http.auth import require_auth
from lunard.http.deps import deps
from lunard.http.notify import delete_records
from lunard.http.responses import empty_response, json_response, page_params, pagination
from lunard.messages import DeleteRecords
from lunard.state import functions as store
from lunard.state.runtime import function_exists

bp = Blueprint("versions", __name__)
T = TypeVar("T")


async def _on_known(function_id: str, fn: Callable[[Any], T]) -> T:
    """`fn(conn)` in one state transaction, after a 404 `Function not found` check."""

    def run(conn: Any) -> T:
        if not function_exists(conn, function_id):
            raise NotFound("Function not found")
        return fn(conn)

    return await deps().state.call(run)


def version_number(raw: str, error: str) -> int:
    """A path segment as a version number (Go's strconv.Atoi), else 400 with `error`."""
    try:
        return atoi(raw)
    except AtoiError:
        raise BadRequest(error) from None


@bp.get("/api/functions/<function_id>/versions")
@require_auth
async def list_versions(function_id: str) -> Response:
    """The function's versions, highest number first, paginated."""
    limit, offset = page_params()
    items, total = await deps().state.call(
        lambda c: store.list_versions(c, function_id, limit, offset)
    )
    return json_response({"versions": items, "pagination": pagination(total, limit, offset)})


@bp.get("/api/functions/<function_id>/versions/<raw_number>")
@require_auth
async def get_version(function_id: str, raw_number: str) -> Response:
    """One version by its number."""
    number = version_number(raw_number, "Invalid version number")
    version = await _on_known(
        function_id, lambda c: store.version_by_number(c, function_id, number)
    )
    if version is None:
        raise NotFound("Version not found")
    return json_response(version)


@bp.post("/api/functions/<function_id>/versions/<version_id>/activate")
@require_auth
async def activate_version(function_id: str, version_id: str) -> Response:
    """Make a version (by id) the only active one; 200 with an empty body."""
    await _on_known(function_id, lambda c: store.activate_version(c, function_id, version_id))
    return empty_response(200)


@bp.delete("/api/functions/<function_id>/versions/<version_id>")
@require_auth
async def delete_version(function_id: str, version_id: str) -> Response:
    """Delete an inactive version and (through the sink) the executions that ran it; 204."""
    await _on_known(function_id, lambda c: store.delete_version(c, function_id, version_id))
    await delete_records(DeleteRecords(version_id=version_id))
    return empty_response(204)


@bp.get("/api/functions/<function_id>/diff/<raw_v1>/<raw_v2>")
@require_auth
async def diff_versions(function_id: str, raw_v1: str, raw_v2: str) -> Response:
    """Line diff from version v1 (old) to v2 (new), by number."""
    v1 = version_number(raw_v1, "Invalid version number v1")
    v2 = version_number(raw_v2, "Invalid version number v2")
    old, new = await _on_known(
        function_id,
        lambda c: (
            store.version_by_number(c, function_id, v1),
            store.version_by_number(c, function_id, v2),
        ),
    )
    if old is None:
        raise NotFound("Version v1 not found")
    if new is None:
        raise NotFound("Version v2 not found")
    body = {"old_version": v1, "new_version": v2, "diff": diff_lines(old["code"], new["code"])}
    return json_response(body)
