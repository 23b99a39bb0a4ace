"""The listening socket: bound by the supervisor before any actor starts.

Binding first means a busy port stops start-up before worker processes are spawned, and
`PORT=0` resolves to the real port everywhere the configuration is used (`ctx.baseUrl`,
the device flow's `approval_url`). Under socket activation the inherited socket is used.
"""

from __future__ import annotations

import os
import socket
from contextlib import ExitStack

from lunard.errors import ConfigError


def open_listener(host: str, port: int, stack: ExitStack) -> tuple[int, int]:
    """Bind and listen on host:port; return (a fd the HTTP actor owns, the bound port).

    The returned fd is a duplicate: the HTTP server closes it when it stops, the original
    is closed by `stack`.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    stack.callback(sock.close)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(1024)
    return os.dup(sock.fileno()), int(sock.getsockname()[1])
