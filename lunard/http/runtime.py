"""The runtime routes `/fn/{id}` and `/fn/{id}/{path...}` (http-api §4).

Checks run in upstream's order (404 unknown, 403 disabled, 500 no active version), then the
call goes to the pool as an `ExecRequest` and the worker's answer becomes the response.
The execution record is written by the pool through the sink, for successes and failures.
"""

from __future__ import annotations

from quart import Blueprint, Response, request

from lunard.errors import Forbidden, InternalError, NotFound, PayloadTooLarge
from lunard.http.deps import deps
from lunard.http.responses import json_response
from lunard.jobs import build_job, execute, stored_event_json
from lunard.messages import HttpEvent, Job
from lunard.state.runtime import load_target

bp = Blueprint("runtime", __name__)

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]
EXECUTION_FAILED = "Function execution failed"
DRAIN_LIMIT = 64 * 1024 * 1024
HOP_HEADERS = frozenset({"Content-Length", "Transfer-Encoding", "Connection"})


def canonical_header(name: str) -> str:
    """Go's canonical MIME header form: `x-api-key` -> `X-Api-Key`."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _relative_path(path: str, function_id: str) -> str:
    rest = path[len(f"/fn/{function_id}") :]
    return rest if rest not in ("", "/") else "/"


async def _read_body(limit: int) -> bytes:
    """The request body, refusing more than `limit` bytes with 413 (DECISIONS 4).

    An oversized body is still read (and discarded) up to `DRAIN_LIMIT`, because a client
    that is still sending would never see our early answer; past that we stop reading.
    """
    declared = request.content_length
    too_large = PayloadTooLarge(f"Request body too large (limit {limit} bytes)")
    if declared is not None and declared > DRAIN_LIMIT:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.body:
        size += len(chunk)
        if size > DRAIN_LIMIT:
            break
        if size <= limit:
            chunks.append(chunk)
    if size > limit:
        raise too_large
    return b"".join(chunks)


def _event(function_id: str, body: bytes) -> HttpEvent:
    headers: dict[str, str] = {}
    # The raw ASGI headers: Quart's view adds a synthetic Remote-Addr the client never sent.
    for raw_name, raw_value in request.scope["headers"]:
        key = canonical_header(raw_name.decode("latin-1"))
        if key != "Host" and key not in headers:
            headers[key] = raw_value.decode("latin-1")
    query = {key: request.args.get(key, "") for key in request.args}
    return HttpEvent(
        method=request.method,
        path=request.path,
        relative_path=_relative_path(request.path, function_id),
        headers=headers,
        query=query,
        body=body,
    )


def _platform_headers(job: Job, duration_ms: int) -> dict[str, str]:
    return {
        "X-Function-Id": job.function_id,
        "X-Function-Version-Id": job.version_id,
        "X-Execution-Id": job.execution_id,
        "X-Execution-Duration-Ms": str(duration_ms),
    }


@bp.route("/fn/<function_id>", methods=METHODS, defaults={"rest": ""})
@bp.route("/fn/<function_id>/<path:rest>", methods=METHODS)
async def invoke(function_id: str, rest: str) -> Response:
    """Run the function's active version with this request as its event."""
    d = deps()
    target = d.state.read(lambda conn: load_target(conn, function_id))
    if target is None:
        raise NotFound("Function not found")
    if target.disabled:
        raise Forbidden("Function is disabled")
    if target.version_id is None:
        raise InternalError("No active version found")

    event = _event(function_id, await _read_body(d.config.max_body_bytes))
    job = build_job(d.config, target, event)
    if d.pool is None:
        raise InternalError("Execution pool is not running")
    outcome = await execute(
        d.pool,
        job,
        trigger="http",  # DECISIONS 6: a public X-Trigger header never makes a cron run
        event_json=stored_event_json(event),
        save_response=target.save_response,
    )

    headers = _platform_headers(job, outcome.duration_ms)
    result = outcome.result
    if result.error is not None or result.response is None:
        return json_response({"error": EXECUTION_FAILED}, 500, headers)
    reply = result.response
    for name, value in reply.headers.items():
        key = canonical_header(name)
        if key not in HOP_HEADERS:  # framing is ours; a function cannot corrupt it
            headers[key] = value
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    response = Response(reply.body, status=reply.status_code or 200)
    for name, value in headers.items():
        response.headers[name] = value
    return response
