"""Fake providers on loopback: real HTTP servers on 127.0.0.1 in threads.

`FakeServer` records every request and answers from a route table (path → `Reply`, or a
function of the request). `fake_openai()`, `fake_anthropic()` and `fake_resend()` answer like
the real services; tests override routes for errors, slow, oversize and non-JSON answers.
No test traffic leaves 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class Recorded:
    """One request the server received."""

    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    body: bytes
    raw_headers: list[tuple[str, str]] = field(default_factory=list)  # as sent

    def json(self) -> Any:
        return json.loads(self.body)

    def query_pairs(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query, keep_blank_values=True)


@dataclass
class Reply:
    """How to answer. `delay` waits before the status line; `stall` sends the head, then
    waits before the body; `chunked` streams the body without a Content-Length; `gzip`
    compresses it and says so."""

    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] = b""
    headers: dict[str, str] | list[tuple[str, str]] = field(default_factory=dict)
    delay: float = 0.0
    stall: float = 0.0
    chunked: bool = False
    gzip: bool = False

    def payload(self) -> tuple[bytes, list[tuple[str, str]]]:
        given = self.headers.items() if isinstance(self.headers, dict) else self.headers
        headers = list(given)
        body = self.body
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            if not any(name.lower() == "content-type" for name, _ in headers):
                headers.append(("Content-Type", "application/json"))
        data = body.encode() if isinstance(body, str) else body
        if self.gzip:
            data = gzip.compress(data)
            headers.append(("Content-Encoding", "gzip"))
        return data, headers


Route = Reply | Callable[[Recorded], Reply]


class FakeServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 with a route table and a request log."""

    def __init__(self, routes: dict[str, Route] | None = None) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.requests: list[Recorded] = []
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, path: str, reply: Route) -> None:
        self.routes[path] = reply

    def close(self) -> None:
        self._closing.set()  # releases slow handlers at once
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, request: Recorded) -> Reply:
        route = self.routes.get(request.path)
        if route is None:
            return Reply(404, {"error": {"message": f"no route {request.path}"}})
        return route(request) if callable(route) else route

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # head and body in one segment: no delayed-ACK wait

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                raw = list(self.headers.items())
                headers: dict[str, str] = {}
                for name, value in raw:
                    key = name.lower()
                    headers[key] = f"{headers[key]}, {value}" if key in headers else value
                recorded = Recorded(self.command, parts.path, parts.query, headers, body, raw)
                server.requests.append(recorded)
                reply = server._answer(recorded)
                if reply.delay and server._closing.wait(reply.delay):
                    return
                data, reply_headers = reply.payload()
                # The client may have given up already (a timeout test).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._send(reply, data, reply_headers)

            def _send(self, reply: Reply, data: bytes, headers: list[tuple[str, str]]) -> None:
                self.send_response(reply.status)
                for name, value in headers:
                    self.send_header(name, value)
                if reply.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.flush()
                if reply.stall and server._closing.wait(reply.stall):
                    return
                if not reply.chunked:
                    self.wfile.write(data)
                    return
                for start in range(0, len(data), 16384):
                    piece = data[start : start + 16384]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        return Handler


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --------------------------------------------------------------------------- providers


def openai_reply(
    content: str = "Hello! How can I help you today?", model: str = "gpt-4o-mini"
) -> Callable[[Recorded], Reply]:
    """A chat completion echoing the requested model (unless `model` is forced)."""

    def answer(request: Recorded) -> Reply:
        return Reply(
            200,
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": request.json().get("model", model),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 8, "total_tokens": 18},
            },
        )

    return answer


def anthropic_reply(*texts: str) -> Callable[[Recorded], Reply]:
    """A Messages API answer with one text block per `texts`."""
    blocks = texts or ("Hello! I'm Claude, happy to help!",)

    def answer(request: Recorded) -> Reply:
        return Reply(
            200,
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": request.json().get("model"),
                "content": [{"type": "text", "text": text} for text in blocks],
                "usage": {"input_tokens": 12, "output_tokens": 9},
            },
        )

    return answer


def resend_reply(email_id: str = "email_123456") -> Reply:
    return Reply(200, {"id": email_id})


@contextmanager
def fake_server(routes: dict[str, Route] | None = None) -> Iterator[FakeServer]:
    server = FakeServer(routes)
    try:
        yield server
    finally:
        server.close()


def fake_openai() -> FakeServer:
    """Serves `/chat/completions` (use the server's url as the endpoint)."""
    return FakeServer({"/chat/completions": openai_reply()})


def fake_anthropic() -> FakeServer:
    """Serves `/v1/messages` (use the server's url as the endpoint)."""
    return FakeServer({"/v1/messages": anthropic_reply()})


def fake_resend() -> FakeServer:
    """Serves `/emails` (use the server's url as RESEND_BASE_URL)."""
    return FakeServer({"/emails": resend_reply()})
