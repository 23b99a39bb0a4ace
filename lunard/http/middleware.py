"""The outer ASGI layer: recovery, access log and CORS (http-api §1.6–1.7).

It wraps the Quart app so it also covers Quart's own 404/405 answers, and answers every
`OPTIONS` request with 204 before routing and authentication.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_log = logging.getLogger("lunard.access")
log = logging.getLogger(__name__)

CORS_HEADERS: list[tuple[bytes, bytes]] = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, POST, PUT, DELETE, OPTIONS"),
    (b"access-control-allow-headers", b"Content-Type, Authorization"),
    (
        b"access-control-expose-headers",
        b"X-Function-Id, X-Function-Version-Id, X-Execution-Id, X-Execution-Duration-Ms",
    ),
]
_CORS_NAMES = {name for name, _ in CORS_HEADERS}
INTERNAL_ERROR = json.dumps({"error": "Internal server error"}).encode()


def with_cors(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` (raw ASGI pairs) with ours for CORS in place of any the app set."""
    return [h for h in headers if h[0].lower() not in _CORS_NAMES] + CORS_HEADERS


def log_access(method: str, path: str, status: int, started: float) -> None:
    """The access-log line of a request that began at `started` (`time.perf_counter`), if
    INFO is on for `lunard.access`."""
    if access_log.isEnabledFor(logging.INFO):
        _access_line(method, path, status, (time.perf_counter() - started) * 1000)


def _access_line(method: str, path: str, status: int, elapsed_ms: float) -> None:
    """One access-log record, `GET /fn/x 200 3.1ms` (args kept as the 4-tuple the JSON
    formatter reads). Built directly: `Logger.info` would walk the stack for a caller
    nobody prints, on every request. The text is formatted by the handler, if any."""
    record = access_log.makeRecord(
        access_log.name,
        logging.INFO,
        __file__,
        0,
        "%s %s %s %.1fms",
        (method, path, status, elapsed_ms),
        None,
    )
    access_log.handle(record)


class EdgeMiddleware:
    """Recovery -> logging -> CORS around the app, in upstream's order."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = {"status": 0, "started": False}

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["started"] = True
                message["headers"] = with_cors(message.get("headers", []))
            await send(message)

        try:
            if scope["method"] == "OPTIONS":
                await send_with_cors({"type": "http.response.start", "status": 204, "headers": []})
                await send({"type": "http.response.body", "body": b""})
            else:
                await self.app(scope, receive, send_with_cors)
        except Exception:
            log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            if not state["started"]:
                await send_with_cors(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": INTERNAL_ERROR})
        finally:
            log_access(scope["method"], scope["path"], state["status"], started)
