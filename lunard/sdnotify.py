"""systemd integration: sd_notify messages, the watchdog ping and socket activation."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

import trio

log = logging.getLogger(__name__)

SD_LISTEN_FDS_START = 3


class Notifier:
    """Sends sd_notify datagrams to `NOTIFY_SOCKET`; does nothing when it is unset."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]  # abstract namespace
        self.address = address
        watchdog_usec = environ.get("WATCHDOG_USEC", "")
        self.watchdog_interval = (
            int(watchdog_usec) / 1_000_000 / 2 if watchdog_usec.isdigit() else None
        )

    async def send(self, message: str) -> None:
        """Send one message (e.g. `READY=1`); failures are logged, never raised."""
        if not self.address:
            return
        sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            await sock.connect(self.address)
            await sock.send(message.encode())
        except OSError as exc:
            log.warning("sd_notify %r failed: %s", message, exc)
        finally:
            sock.close()

    async def watchdog(self) -> None:
        """Ping `WATCHDOG=1` at half of WATCHDOG_USEC, from the event loop itself.

        Runs as a trio task, so a stuck loop stops the pings and systemd restarts us.
        """
        if not self.address or not self.watchdog_interval:
            return
        while True:
            await self.send("WATCHDOG=1")
            await trio.sleep(self.watchdog_interval)


def inherited_socket_fd(environ: Mapping[str, str] | None = None) -> int | None:
    """The first listening fd passed by systemd socket activation, if it is meant for us."""
    environ = os.environ if environ is None else environ
    if environ.get("LISTEN_PID", "") not in ("", str(os.getpid())):
        return None
    count = environ.get("LISTEN_FDS", "")
    if not count.isdigit() or int(count) < 1:
        return None
    return SD_LISTEN_FDS_START
