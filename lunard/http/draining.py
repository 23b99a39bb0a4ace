"""The outermost ASGI layer: while the node drains, every response says `Connection: close`.

A proxy in front of lunard keeps idle keep-alive connections to it and reuses them. From the
first moment of a graceful stop (`Readiness.draining`) each response, `/fn` and API alike,
carries `Connection: close`, so hypercorn (h11) closes the connection once the response is
sent and the proxy opens its next connection elsewhere. By the time the listener closes at the
end of `drain_delay`, no idle connection is left for the proxy to send a request into.

It also shields the last body message of every response from cancellation. Hypercorn turns
a finished keep-alive connection idle (and starts its idle task, which closes the connection
on `keep_alive_timeout` or at shutdown) inside that send; quart-trio cancels the request's
nursery as soon as hypercorn reports the request done, and when that cancellation lands in
the send the idle task is never started. Such a connection was never closed by the server:
not after 75 s of idleness, and not at shutdown, where hypercorn then waited the whole
`shutdown_grace` for it (measured: an idle keep-alive connection made a SIGTERM'd daemon
take drain_delay + shutdown_grace to exit). Hypercorn already shields its socket writes, so
the shield adds no wait of its own.
"""

from __future__ import annotations

from typing import Any

import trio

from lunard.http.deps import Readiness
from lunard.http.middleware import ASGIApp, Message, Receive, Scope, Send


def closing_headers(headers: Any) -> list[tuple[bytes, bytes]]:
    """`headers` with any `Connection` header replaced by `Connection: close`."""
    kept = [(name, value) for name, value in headers or () if name.lower() != b"connection"]
    kept.append((b"connection", b"close"))
    return kept


def _is_last_body(message: Message) -> bool:
    return message["type"] == "http.response.body" and not message.get("more_body", False)


class DrainingLayer:
    """Wraps the app; adds `Connection: close` to `http.response.start` while draining and
    shields each response's last body message (see the module docstring).

    Reads `readiness.draining` (set by the supervisor) at the moment each response starts, so
    a request that began before the drain and answers after it also closes its connection.
    """

    def __init__(self, app: ASGIApp, readiness: Readiness) -> None:
        self.app = app
        self.readiness = readiness

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and self.readiness.draining:
                message = {**message, "headers": closing_headers(message.get("headers"))}
            if _is_last_body(message):
                with trio.CancelScope(shield=True):
                    await send(message)
                return
            await send(message)

        await self.app(scope, receive, send_closing)
