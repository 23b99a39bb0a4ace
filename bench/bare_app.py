"""The ceiling of our HTTP stack: a bare ASGI app on hypercorn-trio answering "hello".

No framework at all: what hypercorn and trio alone cost per request on this machine, the
baseline issue 13's ratios are measured against.
"""

from __future__ import annotations

import sys
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"5")],
}
_BODY = {"type": "http.response.body", "body": b"hello"}


async def lifespan(receive: Any, send: Any) -> None:
    """Answer ASGI's lifespan messages until shutdown (nothing to start or stop)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def hello(send: Any) -> None:
    """The answer of both bare apps: 200 "hello"."""
    await send(_START)
    await send(_BODY)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    await hello(send)


def run(asgi_app: Any, port: str) -> None:
    """Serve `asgi_app` on 127.0.0.1:`port` with hypercorn-trio, no access log."""
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    trio.run(serve, asgi_app, config)


if __name__ == "__main__":
    run(app, sys.argv[1])
