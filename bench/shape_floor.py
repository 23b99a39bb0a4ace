"""The floor of lunard's fixed shape: the bare ASGI app plus one nng round trip per request.

`bench.bare_app` is the ceiling of the HTTP stack. lunard's shape adds, to every `/fn` call,
at least one request-reply over nng to a separate worker process. This app does exactly that
and nothing else: per request it takes one of two Req0 sockets (one per echo process, like
the pool's two workers), sends a 200-byte message and waits for the echo with the pool's own
calls (`lunard.worker_process.send_request` and `receive_reply`), and answers "hello". No
Lua, no records, no routing. What it costs over the bare app is a cost no `/fn` on this
shape can avoid; `bench.runtime` prints its ratios next to the targets.

Run: `python -m bench.shape_floor PORT` (serves), `python -m bench.shape_floor echo ADDRESS`
(one echo process; the server starts two itself).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from typing import Any

import pynng
import trio

from bench.bare_app import hello, lifespan, run
from lunard.worker_process import receive_reply, send_request

ECHOES = 2
PAYLOAD = b"x" * 200


def echo(address: str) -> None:
    """Answer every request with its own bytes, until the server process is gone."""
    parent = os.getppid()
    with pynng.Rep0(recv_timeout=1000) as socket:
        socket.listen(address)
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        while os.getppid() == parent:
            try:
                socket.send(socket.recv())
            except pynng.Timeout:
                continue


class FloorApp:
    """The bare app's answer after one round trip on a free socket."""

    def __init__(self, sockets: list[pynng.Req0]) -> None:
        # Free sockets with their receive fds, taken one per request.
        self.free: trio.MemorySendChannel[tuple[pynng.Req0, int]]
        self.free, self.taken = trio.open_memory_channel[tuple[pynng.Req0, int]](len(sockets))
        for socket in sockets:
            self.free.send_nowait((socket, socket.recv_fd))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        socket, fd = await self.taken.receive()
        try:
            await send_request(socket, PAYLOAD)
            await receive_reply(socket, fd)
        finally:
            self.free.send_nowait((socket, fd))
        await hello(send)


def main(port: str) -> None:
    directory = tempfile.mkdtemp(prefix="lunard-floor-")
    echoes, sockets = [], []
    for n in range(ECHOES):
        address = f"ipc://{os.path.join(directory, f'echo{n}.ipc')}"
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.shape_floor", "echo", address], stdout=subprocess.PIPE
        )
        assert process.stdout is not None
        process.stdout.readline()  # "ready"
        echoes.append(process)
        socket = pynng.Req0(resend_time=-1)  # as the pool's: never re-send a request
        socket.dial(address, block=True)
        sockets.append(socket)
    try:
        run(FloorApp(sockets), port)
    finally:
        for process in echoes:
            process.kill()


if __name__ == "__main__":
    if sys.argv[1] == "echo":
        echo(sys.argv[2])
    else:
        main(sys.argv[1])
