"""One worker process as the pool sees it: start, call, death, kill.

`WorkerProcess` owns the `python -m lunard.worker` process, the ready line it prints once
its socket listens, the nng Req0 socket the pool dials (resends disabled: DECISIONS 5) and
the one call in flight. Its `state` says where it is: STARTING until it is dialled, IDLE,
BUSY during a call, DEAD once the process is gone or retired. The pool decides what to do
about a death or a timeout; this module only reports them (`CallTimedOut`, `WorkerLost`).
"""

from __future__ import annotations

import contextlib
import enum
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pynng
import trio

from lunard.errors import InternalError
from lunard.wire import READY_LINE


class WorkerStartError(InternalError):
    """A worker process did not come up (it exited or stayed silent past the start timeout)."""


class CallTimedOut(Exception):
    """The call passed its deadline; the worker is still running it (kill it)."""


class WorkerLost(Exception):
    """The process died, or its pipe closed, while the call was in flight."""


class WorkerState(enum.Enum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    DEAD = "dead"


@dataclass(eq=False)
class WorkerProcess:
    """A started worker; make one with `WorkerProcess.start`."""

    slot: int
    process: trio.Process
    path: Path  # the ipc socket file
    socket: pynng.Req0 | None = None
    state: WorkerState = WorkerState.STARTING
    execution_id: str | None = None  # the call in flight
    _recv_fd: int = -1  # readable when a reply is waiting (NNG_OPT_RECVFD)
    _call_scope: trio.CancelScope | None = field(default=None, repr=False)

    @classmethod
    async def start(
        cls, slot: int, path: Path, argv: Sequence[str], *, start_timeout_s: float
    ) -> WorkerProcess:
        """Run `argv` (which must listen on `ipc://<path>`), wait for its ready line, dial."""
        address = f"ipc://{path}"
        process = await trio.lowlevel.open_process(
            list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE
        )
        worker = cls(slot=slot, process=process, path=path)
        try:
            with trio.fail_after(start_timeout_s):
                await _read_ready(process)
            worker.socket = pynng.Req0(resend_time=-1)  # never re-send a request
            worker.socket.dial(address, block=True)
        except BaseException as exc:
            worker.close()
            worker.kill()
            with trio.CancelScope(shield=True):
                await worker.wait()
            if isinstance(exc, trio.TooSlowError):
                raise WorkerStartError(
                    f"worker {slot} did not start within {start_timeout_s:g}s"
                ) from exc
            raise
        worker._recv_fd = worker.socket.recv_fd
        worker.state = WorkerState.IDLE
        return worker

    @property
    def pid(self) -> int:
        return self.process.pid

    def usable(self) -> bool:
        """Idle and alive: `poll()` catches a death its watcher has not heard about yet."""
        return self.state is WorkerState.IDLE and self.process.poll() is None

    async def call(self, execution_id: str, payload: bytes, deadline: float) -> bytes:
        """Send one request and return the reply; raise `CallTimedOut` past `deadline`
        (trio time) or `WorkerLost` when the process or its pipe goes away first."""
        assert self.socket is not None
        self.state, self.execution_id = WorkerState.BUSY, execution_id
        try:
            with trio.CancelScope(deadline=deadline) as scope:
                self._call_scope = scope
                await _send(self.socket, payload)
                return await self._receive()
            if self.state is WorkerState.DEAD or self.process.returncode is not None:
                raise WorkerLost
            raise CallTimedOut
        except pynng.NNGException:
            # With resends off, a closed pipe fails the pending request (ECONNRESET)
            # instead of sending it again: the worker is gone or going.
            raise WorkerLost from None
        finally:
            self._call_scope, self.execution_id = None, None
            if self.state is WorkerState.BUSY:
                self.state = WorkerState.IDLE

    async def watch(self) -> bool:
        """Wait for the process to end; mark it dead and stop the call in flight.
        Returns whether a call was in flight (its caller reports the death)."""
        await self.process.wait()
        was_busy = self.state is WorkerState.BUSY
        self.state = WorkerState.DEAD
        if self._call_scope is not None:
            self._call_scope.cancel()
        return was_busy

    def retire(self) -> None:
        """Mark dead, close the socket and kill the process (idempotent)."""
        self.state = WorkerState.DEAD
        self.close()
        self.kill()

    def kill(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):  # it may exit meanwhile
                self.process.kill()

    def terminate(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()

    def close(self) -> None:
        """Close the socket, waking (with ClosedResourceError) a wait on its fd first."""
        socket, self.socket = self.socket, None
        if socket is None:
            return
        if self._recv_fd >= 0:
            trio.lowlevel.notify_closing(self._recv_fd)
        socket.close()

    async def wait(self) -> None:
        """Wait for the process to be gone and remove its socket file."""
        await self.process.wait()
        self.path.unlink(missing_ok=True)

    def exit_reason(self) -> str:
        return exit_reason(self.process.returncode)

    async def _receive(self) -> bytes:
        """The reply to the request in flight.

        Waits on nng's receive-notification fd in trio's own epoll instead of pynng's
        `arecv`, whose completion hops through an nng thread and `run_sync_soon` (measured:
        ~1.6x the round trips per second). A dead worker never makes the fd readable; its
        watcher cancels the call instead.
        """
        assert self.socket is not None
        while True:
            try:
                reply: bytes = self.socket.recv(block=False)
            except pynng.TryAgain:
                await trio.lowlevel.wait_readable(self._recv_fd)
            else:
                return reply


async def _send(socket: pynng.Req0, payload: bytes) -> None:
    """Queue a request on the worker's pipe.

    A non-blocking send is the fast path (~10 µs; pynng's `asend` costs ~250 µs here); it
    only fails when the pipe cannot take the message, and then we wait for it properly.
    """
    try:
        socket.send(payload, block=False)
    except pynng.TryAgain:
        await socket.asend(payload)
    else:
        await trio.lowlevel.checkpoint()


async def _read_ready(process: trio.Process) -> None:
    """Wait for the worker's `ready` line, then close our end of its stdout."""
    assert process.stdout is not None
    seen = b""
    try:
        while not seen.endswith(b"\n"):
            chunk = await process.stdout.receive_some(64)
            if not chunk:
                code = await process.wait()
                raise WorkerStartError(
                    f"worker process exited during start-up ({exit_reason(code)}); "
                    "see its stderr above"
                )
            seen += chunk
    finally:
        await process.stdout.aclose()
    if seen != READY_LINE:
        raise WorkerStartError(f"worker process said {seen!r} instead of ready")


def exit_reason(code: int | None) -> str:
    """How a process ended, in words (`killed by signal 9, SIGKILL`, `exit status 1`)."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown signal"
        return f"killed by signal {-code}, {name}"
    return f"exit status {code}"
