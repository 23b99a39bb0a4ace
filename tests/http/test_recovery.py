"""Statement 4: a handler exception answers 500 JSON instead of dropping the connection."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, cast

from quart_trio import QuartTrio

from lunard.http.deps import AppDeps, Readiness
from lunard.http.errors import register_error_handlers
from lunard.http.middleware import EdgeMiddleware, Message, Receive, Scope, Send
from lunard.http.runtime import FunctionRuntime

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


def _lowered(headers: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    """Header names are case-insensitive (/fn sends canonical ones, h11 lowercases them)."""
    return {name.lower(): value for name, value in headers}


def _runtime(target: Any, readiness: Readiness) -> FunctionRuntime:
    """The /fn layer alone, over a state whose lookup is `target` (nothing else is reached
    before it answers); other paths would go to an app that must not be called."""

    async def not_here(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("/fn must not fall through")

    state = SimpleNamespace(runtime=SimpleNamespace(target=target))
    return FunctionRuntime(
        not_here, cast(AppDeps, SimpleNamespace(state=state, readiness=readiness))
    )


async def test_an_unexpected_error_on_fn_is_500_json_with_the_edge_headers() -> None:
    # /fn is served before the edge layers, so it recovers by itself.
    def broken_lookup(function_id: str) -> None:
        raise RuntimeError("lookup bug")

    sent = await _drive(_runtime(broken_lookup, Readiness()), _scope(path="/fn/abc"))
    start, body = sent
    assert start["status"] == 500
    headers = _lowered(start["headers"])
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"access-control-allow-origin"] == b"*"
    assert b"connection" not in headers
    assert json.loads(body["body"]) == INTERNAL


async def test_fn_answers_say_connection_close_while_draining() -> None:
    sent = await _drive(
        _runtime(lambda function_id: None, Readiness(draining=True)), _scope(path="/fn/abc")
    )
    start, body = sent
    assert start["status"] == 404
    assert _lowered(start["headers"])[b"connection"] == b"close"
    assert json.loads(body["body"]) == {"error": "Function not found"}
