"""The runtime routes `/fn/{id}` and `/fn/{id}/{path...}` (http-api §4).

These are the hot path, so they are served as the outermost plain ASGI layer, in front of
the edge layers and the Quart app (Quart's request machinery costs about a quarter of a
hello-world's time, and each wrapping layer another await per message): the edge's work
for `/fn` answers — CORS headers, recovery into a 500, the access-log line, and while
draining `Connection: close` with the last body message shielded — is done here, inline,
with the edge layers' own helpers. Everything else (`OPTIONS` too) falls through to them.

Checks run in upstream's order (404 unknown, 403 disabled, 500 no active version), then
lunard's own: 429 when the function's `max_concurrency` is 0 (Lambda answers a function with
reserved concurrency 0 the same way; nothing is recorded). Then the call goes to the pool as
an `ExecRequest` and the worker's answer becomes the response; a full queue, or a full share
of it for this function, is 503 with Retry-After. The pool records the execution through the
sink, success or failure.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from typing import Any
from urllib.parse import parse_qsl

import trio

from lunard.errors import (
    Forbidden,
    InternalError,
    LunardError,
    NotFound,
    PayloadTooLarge,
    Throttled,
)
from lunard.golang import canonical_header
from lunard.http.deps import AppDeps
from lunard.http.draining import closing_headers
from lunard.http.errors import METHOD_NOT_ALLOWED, allow_value, error_reply
from lunard.http.middleware import (
    INTERNAL_ERROR,
    ASGIApp,
    Receive,
    Scope,
    Send,
    log_access,
    with_cors,
)
from lunard.jobs import THROTTLED, start_run
from lunard.messages import HttpEvent, Job, JobResponse

log = logging.getLogger(__name__)

PREFIX = "/fn/"
METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"})
# For the API documentation check: the routes this layer serves, in werkzeug syntax.
ROUTES = (("/fn/<function_id>", METHODS), ("/fn/<function_id>/<path:rest>", METHODS))
EXECUTION_FAILED = "Function execution failed"
EXECUTION_FAILED_BODY = json.dumps({"error": EXECUTION_FAILED}).encode()
# OPTIONS is answered by the edge middleware on every path, so it is allowed too.
ALLOW = allow_value(METHODS | {"OPTIONS"})
DRAIN_LIMIT = 64 * 1024 * 1024
HOP_HEADERS = frozenset({"Content-Length", "Transfer-Encoding", "Connection"})


@functools.lru_cache(maxsize=1024)
def _event_header_name(raw: bytes) -> str:
    """A request header name (bytes off the wire) as the event's key, canonicalised once per
    distinct name rather than once per request (bounded: names are the client's choice)."""
    return canonical_header(raw.decode("latin-1"))


def split_path(path: str) -> tuple[str, str] | None:
    """`/fn/<id>[/<rest>]` -> (id, relativePath), or None when it is not a runtime path."""
    if not path.startswith(PREFIX):
        return None
    function_id, slash, rest = path[len(PREFIX) :].partition("/")
    if not function_id:
        return None
    return function_id, (slash + rest if rest else "/")


async def read_body(receive: Receive, limit: int) -> bytes:
    """The request body, refusing more than `limit` bytes with 413 (DECISIONS 4).

    An oversized body is still read (and discarded) up to `DRAIN_LIMIT`, because a client
    that is still sending would never see our early answer; past that we stop reading.
    """
    chunks: list[bytes] = []
    size = 0
    more = True
    while more and size <= DRAIN_LIMIT:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        more = message.get("more_body", False)
    if size > limit:
        raise PayloadTooLarge(f"Request body too large (limit {limit} bytes)")
    return b"".join(chunks)


def build_event(scope: Scope, relative_path: str, body: bytes) -> HttpEvent:
    """The handler's `event`: first value per header (canonical names, no Host) and per
    query parameter (percent- and `+`-decoded)."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        key = _event_header_name(raw_name)
        if key != "Host" and key not in headers:
            headers[key] = raw_value.decode("latin-1")
    query: dict[str, str] = {}
    for key, value in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
        query.setdefault(key, value)
    return HttpEvent(
        method=scope["method"],
        path=scope["path"],
        relative_path=relative_path,
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


def _function_headers(reply: JobResponse, headers: dict[str, str]) -> dict[str, str]:
    """The headers of a handler's answer: user headers override ours (not framing).

    Every name is canonical here (ours are written so, the handler's are made so), so
    `Content-Type` is found by one lookup."""
    for name, value in reply.headers.items():
        key = canonical_header(name)
        if key not in HOP_HEADERS:
            headers[key] = value
    if "Content-Type" not in headers:
        headers["Content-Type"] = "application/json"
    return headers


class FunctionRuntime:
    """The outermost ASGI layer: serves `/fn/...` itself (with the edge's work, see the
    module docstring) and passes every other request, and `OPTIONS`, to `app` (the edge
    layers around Quart)."""

    def __init__(self, app: ASGIApp, deps: AppDeps) -> None:
        self.app = app
        self.deps = deps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = split_path(scope["path"]) if scope["type"] == "http" else None
        if route is None or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        try:
            status, headers, body = await self._answer(scope, receive, route)
        except Exception:
            log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            headers, body = {"Content-Type": "application/json"}, INTERNAL_ERROR
        try:
            await self._respond(send, status, headers, b"" if scope["method"] == "HEAD" else body)
        finally:
            log_access(scope["method"], scope["path"], status, started)

    async def _answer(
        self, scope: Scope, receive: Receive, route: tuple[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        if scope["method"] not in METHODS:
            # Other methods are not routed to functions: 405 with `Allow`, like Go's mux
            # (DECISIONS 8). The function is not looked up, so this says nothing about it.
            headers = {"Allow": ALLOW, "Content-Type": "text/plain; charset=utf-8"}
            return 405, headers, METHOD_NOT_ALLOWED.encode()
        try:
            return await self.invoke(scope, receive, *route)
        except LunardError as exc:
            status, headers, error = error_reply(exc)
            headers["Content-Type"] = "application/json"
            return status, headers, json.dumps(error).encode()

    async def _respond(self, send: Send, status: int, headers: dict[str, str], body: bytes) -> None:
        raw: list[Any] = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        raw.append((b"content-length", str(len(body)).encode()))
        raw = with_cors(raw)
        if self.deps.readiness.draining:
            raw = closing_headers(raw)
        await send({"type": "http.response.start", "status": status, "headers": raw})
        # Shielded like every last body message (lunard.http.draining says why).
        with trio.CancelScope(shield=True):
            await send({"type": "http.response.body", "body": body})

    async def invoke(
        self, scope: Scope, receive: Receive, function_id: str, relative_path: str
    ) -> tuple[int, dict[str, str], bytes]:
        """Run the function's active version with this request as its event."""
        d = self.deps
        target = d.state.runtime.target(function_id)
        if target is None:
            raise NotFound("Function not found")
        if target.disabled:
            raise Forbidden("Function is disabled")
        if target.version_id is None:
            raise InternalError("No active version found")
        if target.max_concurrency == 0:
            raise Throttled(THROTTLED)
        if d.pool is None:
            raise InternalError("Execution pool is not running")

        event = build_event(scope, relative_path, await read_body(receive, d.config.max_body_bytes))
        # DECISIONS 6: a public X-Trigger header never makes a cron run.
        run = await start_run(d.config, d.pool, target, event, "http")
        headers = _platform_headers(run.job, run.outcome.duration_ms)
        reply = run.outcome.result.response
        if run.failed or reply is None:
            headers["Content-Type"] = "application/json"
            return 500, headers, EXECUTION_FAILED_BODY
        return run.status, _function_headers(reply, headers), reply.body
