"""One worker process as the pool sees it: start, call, death, kill.

`WorkerProcess` owns the `python -m lunard.worker` process, the ready line it prints once
its socket listens, the nng Req0 socket the pool dials (resends disabled: DECISIONS 5) and
the one call in flight. Its `state` says where it is: STARTING until it is dialled, IDLE,
BUSY during a call, DEAD once the process is gone or retired. The pool decides what to do
about a death or a timeout; this module only reports them (`CallTimedOut`, `WorkerLost`).

The worker's stderr is a pipe read by `_pump_stderr`: every line becomes a record of the
daemon's own log (logger `lunard.worker`), so in `log_format = json` a worker's traceback is
JSON lines like everything else. The worker writes its log records as one JSON object a
line (`lunard.worker.main`), which keep their level, logger and exception text here; any
other line (a crash of the interpreter itself) is logged as a warning. The last lines are
kept (`stderr_tail`) so a worker that cannot start says why.

`BootPolicy` is what the pool does about workers that cannot start (gunicorn's
WORKER_BOOT_ERROR): after `BOOT_FAILURES_NOT_READY` failed starts in a row on a slot, the
daemon is reported not ready (`/readyz` answers 503 with the last start error, which ends
with the worker's stderr); the next successful start on every such slot resolves it. After
`BOOT_FAILURES_FATAL` failures in a row on one slot (about 30 s of nothing but failures with
the pool's default backoff, longer when each start hangs until its start timeout) the pool
stops with `WorkerBootError`, and the daemon with exit code 3: retrying forever would only
hide a broken installation. A count, not a clock, so the policy does not depend on how long
a failing start takes.
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import signal
import subprocess
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pynng
import trio

from lunard.errors import InternalError, WorkerBootError
from lunard.wire import READY_LINE

log = logging.getLogger("lunard.worker")
_pool_log = logging.getLogger("lunard.pool")

STDERR_TAIL_LINES = 20  # kept for the reason of a failed start
_MAX_LINE = 16 * 1024  # a longer stderr line is cut (the rest becomes the next line)
_LEVELS = logging.getLevelNamesMapping()

BOOT_FAILURES_NOT_READY = 3  # failed starts in a row on a slot before /readyz says 503
BOOT_FAILURES_FATAL = 10  # ... before the pool (and the daemon) stops
READINESS_COMPONENT = "pool"


class WorkerStartError(InternalError):
    """A worker process did not come up (it exited or stayed silent past the start timeout)."""


class CallTimedOut(Exception):
    """The call passed its deadline; the worker is still running it (kill it)."""


class WorkerLost(Exception):
    """The process died, or its pipe closed, while the call was in flight."""


class ReadinessReport(Protocol):
    """Where the pool says it cannot work (`lunard.http.deps.Readiness` is one)."""

    def problem(self, component: str, reason: str) -> None: ...

    def resolved(self, component: str) -> None: ...


class BootPolicy:
    """Failed starts in a row per slot, and what they mean (see the module docstring)."""

    def __init__(self, slots: int, readiness: ReadinessReport | None, python: str) -> None:
        self._failures = [0] * slots
        self._readiness = readiness
        self._python = python

    def started(self, slot: int) -> None:
        """A worker of `slot` came up; ready again once no slot is past the threshold."""
        self._failures[slot] = 0
        if self._readiness is not None and max(self._failures) < BOOT_FAILURES_NOT_READY:
            self._readiness.resolved(READINESS_COMPONENT)

    def failed(self, slot: int, reason: str) -> WorkerBootError | None:
        """Count a failed start of `slot`; the error to stop with, or None to retry."""
        self._failures[slot] += 1
        failures = self._failures[slot]
        _pool_log.error("starting worker %d failed (%d in a row): %s", slot, failures, reason)
        if failures >= BOOT_FAILURES_NOT_READY and self._readiness is not None:
            self._readiness.problem(
                READINESS_COMPONENT, f"worker {slot} failed to start {failures} times: {reason}"
            )
        if failures < BOOT_FAILURES_FATAL:
            return None
        return WorkerBootError(
            f"worker {slot} failed to start {failures} times in a row, the last time: {reason}. "
            f"Check that `{self._python} -m lunard.worker` runs (Python, lupa/LuaJIT and "
            "pynng installed), that the state file and the runtime directory are writable, "
            "and that worker_address_space_mb leaves a worker room to start."
        )


FRESH_REPLY_S = 0.05
"""A worker that replied this recently counts as alive without asking the kernel."""


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
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=STDERR_TAIL_LINES))
    _stderr_done: trio.Event = field(default_factory=trio.Event, repr=False)
    _answered_at: float = -1.0  # trio time of the last reply (its liveness, for `usable`)

    @classmethod
    async def start(
        cls,
        slot: int,
        path: Path,
        argv: Sequence[str],
        *,
        start_timeout_s: float,
        nursery: trio.Nursery,
    ) -> WorkerProcess:
        """Run `argv` (which must listen on `ipc://<path>`), wait for its ready line, dial.

        The process's stderr is read by a task in `nursery` for as long as it is open.
        Raises `WorkerStartError` (with the end of its stderr) when it does not come up.
        """
        address = f"ipc://{path}"
        process = await trio.lowlevel.open_process(
            list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        worker = cls(slot=slot, process=process, path=path)
        nursery.start_soon(worker._pump_stderr)
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
                with trio.move_on_after(1.0):  # its last words, for the message
                    await worker._stderr_done.wait()
            if isinstance(exc, trio.TooSlowError):
                raise WorkerStartError(
                    f"worker {slot} did not start within {start_timeout_s:g}s"
                    + worker._stderr_summary()
                ) from exc
            if isinstance(exc, WorkerStartError):
                raise WorkerStartError(exc.message + worker._stderr_summary()) from None
            raise
        worker._recv_fd = worker.socket.recv_fd
        worker.state = WorkerState.IDLE
        return worker

    def _stderr_summary(self) -> str:
        if not self.stderr_tail:
            return "; it wrote nothing on stderr"
        return "; its stderr ended with: " + " | ".join(list(self.stderr_tail)[-5:])

    async def _pump_stderr(self) -> None:
        """Log every line the worker writes on stderr (see the module docstring)."""
        stream = self.process.stderr
        assert stream is not None
        pending = b""
        try:
            while chunk := await stream.receive_some(_MAX_LINE):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                if len(pending) >= _MAX_LINE:
                    lines.append(pending)
                    pending = b""
                for line in lines:
                    self._log_line(line)
            if pending:
                self._log_line(pending)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass
        finally:
            self._stderr_done.set()
            with trio.CancelScope(shield=True):
                await stream.aclose()

    def _log_line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip()
        if not text:
            return
        where = {"worker_slot": self.slot, "worker_pid": self.process.pid}
        record = _worker_record(text)
        if record is None:
            self.stderr_tail.append(text)
            log.warning("worker %d (pid %d): %s", self.slot, self.process.pid, text, extra=where)
            return
        level, name, message, exception = record
        self.stderr_tail.append(message)
        logger = logging.getLogger(name)
        if not logger.isEnabledFor(level):
            return
        entry = logger.makeRecord(
            name, level, "(worker)", 0, "worker %d (pid %d): %s",
            (self.slot, self.process.pid, message), None, extra=where,
        )  # fmt: skip
        entry.exc_text = exception
        logger.handle(entry)

    @property
    def pid(self) -> int:
        return self.process.pid

    def usable(self) -> bool:
        """Idle and alive. A worker idle for a while is asked (`poll()`: a death its watcher
        has not heard about yet must not cost a call); one that answered within
        `FRESH_REPLY_S` just proved it is alive, which spares a syscall per call under load."""
        if self.state is not WorkerState.IDLE:
            return False
        fresh = trio.current_time() - self._answered_at < FRESH_REPLY_S
        return fresh or self.process.poll() is None

    async def call(self, execution_id: str, payload: bytes, deadline: float) -> bytes:
        """Send one request and return the reply; raise `CallTimedOut` past `deadline`
        (trio time) or `WorkerLost` when the process or its pipe goes away first."""
        assert self.socket is not None
        self.state, self.execution_id = WorkerState.BUSY, execution_id
        try:
            with trio.CancelScope(deadline=deadline) as scope:
                self._call_scope = scope
                await send_request(self.socket, payload)
                return await receive_reply(self.socket, self._recv_fd)
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
                self._answered_at = trio.current_time()

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


async def send_request(socket: pynng.Req0, payload: bytes) -> None:
    """Queue a request on a worker's pipe (`bench.shape_floor` measures the same calls).

    A non-blocking send is the fast path (~10 µs; pynng's `asend` costs ~250 µs here); it
    only fails when the pipe cannot take the message, and then we wait for it properly.
    """
    try:
        socket.send(payload, block=False)
    except pynng.TryAgain:
        await socket.asend(payload)
    else:
        await trio.lowlevel.checkpoint()


async def receive_reply(socket: pynng.Req0, recv_fd: int) -> bytes:
    """The reply to the request in flight on `socket` (`recv_fd`: its NNG_OPT_RECVFD).

    Waits on nng's receive-notification fd in trio's own epoll instead of pynng's `arecv`,
    whose completion hops through an nng thread and `run_sync_soon` (measured: ~1.6x the
    round trips per second). A dead worker never makes the fd readable; its watcher cancels
    the call instead.
    """
    while True:
        try:
            reply: bytes = socket.recv(block=False)
        except pynng.TryAgain:
            await trio.lowlevel.wait_readable(recv_fd)
        else:
            return reply


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
                    f"worker process exited during start-up ({exit_reason(code)})"
                )
            seen += chunk
    finally:
        await process.stdout.aclose()
    if seen != READY_LINE:
        raise WorkerStartError(f"worker process said {seen!r} instead of ready")


def _worker_record(text: str) -> tuple[int, str, str, str | None] | None:
    """(level, logger, message, exception) of a line a worker's log handler wrote, or None
    for any other line."""
    if not text.startswith("{"):
        return None
    try:
        entry = json.loads(text)
    except ValueError:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("message"), str):
        return None
    name = entry.get("logger")
    if not isinstance(name, str) or not name.startswith("lunard.worker"):
        name = "lunard.worker"
    exception = entry.get("exception")
    level = _LEVELS.get(str(entry.get("level")), logging.WARNING)
    return level, name, entry["message"], exception if isinstance(exception, str) else None


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
