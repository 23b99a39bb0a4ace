"""The HTTP actor: serves the app with hypercorn's trio worker inside our nursery."""

from __future__ import annotations

import logging

import trio
from hypercorn.config import Config as HyperConfig
from hypercorn.trio import serve
from quart_trio import QuartTrio

from lunard.config import Config

log = logging.getLogger(__name__)


class HttpServer:
    """Owns the listening socket and the ASGI app.

    Receives HTTP requests; handlers send ExecRequests to the pool, read and write the state
    store and query the sink. `run` reports the bound URL through `task_status` once the
    socket listens. When `shutdown` is set (by the supervisor, after `drain_delay`) it stops
    accepting, closes idle keep-alive connections and returns once in-flight requests have
    finished (at most `shutdown_grace` seconds later).
    """

    def __init__(
        self, *, app: QuartTrio, config: Config, shutdown: trio.Event, fd: int
    ) -> None:
        self.app = app
        self.config = config
        self.shutdown = shutdown
        self.fd = fd

    def _hypercorn_config(self) -> HyperConfig:
        hc = HyperConfig()
        hc.bind = [f"fd://{self.fd}"]  # bound by the supervisor, or inherited from systemd
        hc.graceful_timeout = self.config.shutdown_grace
        hc.accesslog = None  # our middleware writes one line per request
        hc.errorlog = logging.getLogger("hypercorn.error")
        hc.keep_alive_timeout = 75
        return hc

    async def run(self, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        class _Relay:
            """Hands hypercorn's bound addresses to our caller as one URL."""

            def started(self, binds: list[str] | None = None) -> None:
                url = (binds or [""])[0]
                task_status.started(url)

        await serve(
            self.app,
            self._hypercorn_config(),
            shutdown_trigger=self.shutdown.wait,
            task_status=_Relay(),
        )
