"""The floor of lunard's fixed shape: the bare ASGI app plus one nng round trip per request.

`bench.bare_app` is the ceiling of the HTTP stack. lunard's shape adds, to every `/fn` call,
at least one request-reply over nng to a separate worker process. This app does exactly that
and nothing else: per request it takes one of two Req0 sockets (one per echo process, like
the pool's two workers), sends a 200-byte message, waits for the echo the way
`lunard.worker_process` does (non-blocking send, then nng's receive fd in trio's epoll), and
answers "hello". No Lua, no records, no routing. What it costs over the bare app is a cost
no `/fn` on this shape can avoid; `bench.runtime` prints its ratios next to the targets.

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
from hypercorn.config import Config
from hypercorn.trio import serve

ECHOES = 2
PAYLOAD = b"x" * 200
_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"5")],
}
_BODY = {"type": "http.response.body", "body": b"hello"}


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


async def round_trip(socket: pynng.Req0, fd: int) -> bytes:
    socket.send(PAYLOAD, block=False)
    while True:
        try:
            reply: bytes = socket.recv(block=False)
        except pynng.TryAgain:
            await trio.lowlevel.wait_readable(fd)
        else:
            return reply


class FloorApp:
    """The bare app's answer after one round trip on a free socket."""

    def __init__(self, sockets: list[pynng.Req0]) -> None:
        self.free: trio.MemorySendChannel[pynng.Req0]
        self.free, self.taken = trio.open_memory_channel[pynng.Req0](len(sockets))
        self.fds = {id(s): s.recv_fd for s in sockets}
        for socket in sockets:
            self.free.send_nowait(socket)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        socket = await self.taken.receive()
        try:
            await round_trip(socket, self.fds[id(socket)])
        finally:
            self.free.send_nowait(socket)
        await send(_START)
        await send(_BODY)


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
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    try:
        trio.run(serve, FloorApp(sockets), config)  # type: ignore[arg-type]
    finally:
        for process in echoes:
            process.kill()


if __name__ == "__main__":
    if sys.argv[1] == "echo":
        echo(sys.argv[2])
    else:
        main(sys.argv[1])
