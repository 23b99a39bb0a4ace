"""Statement 4: a handler exception answers 500 JSON instead of dropping the connection."""

from __future__ import annotations

import json
from typing import Any

from quart_trio import QuartTrio

from lunard.http.errors import register_error_handlers
from lunard.http.middleware import EdgeMiddleware, Message, Receive, Scope, Send

INTERNAL = {"error": "Internal server error"}


def _scope(method: str = "GET", path: str = "/boom") -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }


async def _drive(app: Any, scope: Scope) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def test_s4_handler_exception_is_500_json() -> None:
    async def raising_app(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("handler bug")

    sent = await _drive(EdgeMiddleware(raising_app), _scope())
    start, body = sent
    assert start["type"] == "http.response.start"
    assert start["status"] == 500
    headers = dict(start["headers"])
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"access-control-allow-origin"] == b"*"
    assert json.loads(body["body"]) == INTERNAL


async def test_exception_after_response_started_is_not_answered_twice() -> None:
    async def half_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("failed mid-body")

    sent = await _drive(EdgeMiddleware(half_app), _scope())
    assert [m["type"] for m in sent] == ["http.response.start"]
    assert sent[0]["status"] == 200


async def test_exception_in_a_quart_route_is_500_json() -> None:
    app = QuartTrio("recovery-test")

    @app.get("/boom")
    async def boom() -> str:
        raise ZeroDivisionError("route bug")

    register_error_handlers(app)
    app.asgi_app = EdgeMiddleware(app.asgi_app)  # type: ignore[method-assign,assignment,arg-type]
    response = await app.test_client().get("/boom")
    assert response.status_code == 500
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(await response.get_data()) == INTERNAL
