"""The pool actor: worker processes, their nng sockets, and the execution queue.

Timeout and crash errors (the pool's own, recorded like any execution error and passed
through the enhancer, so they read `Error: ...` with no code context and no tip):

- timeout: `failed to execute handler: <string>: execution timed out after 1s (context
  deadline exceeded)` → `Error: <string>: execution timed out after 1s (context deadline
  exceeded)`. It names the chunk like Lua's own errors and ends with upstream's deadline
  text, which the enhancer classifies as "unknown" (no tip), as upstream does. No line
  number: the worker is killed, so nobody can ask Lua where it was.
- a worker that died mid-call: `failed to execute handler: the worker process running this
  execution died (killed by signal 9, SIGKILL); it was not retried`.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import logging
import math
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pynng
import trio

from lunard.errors import InternalError, Overloaded, Throttled
from lunard.jobs import QUEUE_FULL, SHARE_FULL, THROTTLED
from lunard.messages import (
    WIRE_ENCODER,
    ExecOutcome,
    ExecRequest,
    ExecutionRecord,
    Job,
    JobLog,
    JobResponse,
    JobResult,
    RecordBatch,
    RecordWrite,
    result_decoder,
)
from lunard.worker.enhancer import HANDLER_PREFIX, enhance

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 300.0  # upstream: a zero execution timeout means 5 minutes
MAX_SAVED_BODY = 1 << 20  # http-api §4.7
TRUNCATED_SUFFIX = "\n[TRUNCATED - Response exceeded 1MB]"
READY_LINE = b"ready\n"
RESTART_BACKOFF_S = (0.1, 0.5, 1.0, 2.0, 5.0)


class WorkerStartError(InternalError):
    """A worker process did not come up (it exited or stayed silent past the start timeout)."""


@dataclass(eq=False)
class _Worker:
    """One live worker process and the socket the pool talks to it through."""

    slot: int
    process: trio.Process
    socket: pynng.Req0
    recv_fd: int  # readable when a reply is waiting (NNG_OPT_RECVFD)
    path: Path
    dead: bool = False
    busy: bool = False  # from dispatch until the call's outcome is settled
    # The cancel scope of the call in flight; the watcher cancels it when the process dies.
    call_scope: trio.CancelScope | None = None


@dataclass
class _Calls:
    """Which worker runs which execution, and a way to wait for that to change."""

    running: dict[str, int] = field(default_factory=dict)
    changed: trio.Event = field(default_factory=trio.Event)

    def update(self) -> None:
        self.changed.set()
        self.changed = trio.Event()


# A function may borrow workers past its share only once this many of its calls in a row
# ended within LEND_FAST_S: a function whose calls run long (sleepers, runaway loops) never
# holds the worker kept for the others, so they always find one free.
LEND_AFTER_FAST = 4
LEND_FAST_S = 0.25
_STREAKS_KEPT = 10_000  # functions whose fast streak is remembered (forgotten past this)


@dataclass(eq=False)
class _Lane:
    """One function in the queue: its waiting calls, oldest first, and the workers it holds."""

    function_id: str
    waiting: deque[ExecRequest] = field(default_factory=deque)
    running: int = 0  # calls taken by a dispatcher and not yet answered
    max_concurrency: int | None = None  # from the newest call: a change applies at once

    def may_start(self) -> bool:
        """Whether one more call stays within the function's own `max_concurrency`."""
        return self.max_concurrency is None or self.running < self.max_concurrency


class JobQueue:
    """The pool's inbox: one FIFO queue per function, served round-robin (DECISIONS 17).

    Admission, in `send_nowait` (called by the HTTP and scheduler tasks; O(1), never
    blocks), in this order:
    - a call whose `max_concurrency` is 0 is refused with `Throttled`;
    - a function may have at most `share = max(1, capacity // 2)` calls waiting; past that
      its calls are refused with `Overloaded` (SHARE_FULL) while other functions' calls are
      still taken, so a flood leaves at least half the queue to everyone else;
    - all functions together may have at most `capacity` calls waiting (QUEUE_FULL).

    Dispatch, in `get` (called by the pool's dispatchers, one per worker): the functions
    with waiting calls form a ring in order of arrival. A dispatcher serves the first
    function in ring order that may start a call, takes its oldest call and moves it to the
    back of the ring; functions it skipped keep their place. A function may start a call
    only within its own `max_concurrency` (always), and then
    - while it holds fewer than `worker_share` workers, or
    - when no function holding fewer than `worker_share` workers is waiting and the
      function has earned it: its last `LEND_AFTER_FAST` calls each ended within
      `LEND_FAST_S`. A function of short calls with nobody else waiting may then use every
      worker (the pool never idles a worker such a call could use), and a lent worker comes
      back within a fraction of a second. A function whose calls run long (sleepers,
      runaway loops, a first call nobody has measured yet) keeps to its share, so the
      others always find a worker. Only a function that was fast and then suddenly hangs
      on several calls at once can hold the lent workers, until its execution timeout;
      `max_concurrency` is the hard cap for such a function.

    "Waiting" means not yet taken by a dispatcher; `done` returns a taken call's worker.
    """

    def __init__(self, *, capacity: int, worker_share: int) -> None:
        if capacity < 1 or worker_share < 1:
            raise ValueError("a job queue needs room for one call and one worker a function")
        self.capacity = capacity
        self.share = max(1, capacity // 2)
        self.worker_share = worker_share
        self._lanes: dict[str, _Lane] = {}  # functions with calls waiting or running
        self._fast_streaks: dict[str, int] = {}  # calls in a row that ended within LEND_FAST_S
        self._ring: deque[_Lane] = deque()  # functions with calls waiting, in serving order
        self._depth = 0
        self._closed = False
        self._idle = trio.lowlevel.ParkingLot()  # dispatchers with nothing they may take

    def depth(self) -> int:
        """Calls waiting, all functions together."""
        return self._depth

    def send_nowait(self, request: ExecRequest) -> None:
        """Queue `request` or refuse it at once (see the class docstring)."""
        if self._closed:
            raise trio.ClosedResourceError("the pool is not running")
        if request.max_concurrency == 0:
            raise Throttled(THROTTLED)
        function_id = request.job.function_id
        lane = self._lanes.get(function_id)
        if lane is not None and len(lane.waiting) >= self.share:
            raise Overloaded(SHARE_FULL)
        if self._depth >= self.capacity:
            raise Overloaded(QUEUE_FULL)
        if lane is None:
            lane = self._lanes[function_id] = _Lane(function_id)
        lane.max_concurrency = request.max_concurrency
        if not lane.waiting:
            self._ring.append(lane)
        lane.waiting.append(request)
        self._depth += 1
        if self._idle:  # unpark() costs more than the test when nobody is parked
            self._idle.unpark()

    async def get(self) -> ExecRequest:
        """The next call to run; raises `trio.EndOfChannel` once closed and empty."""
        while True:
            request = self._take()
            if request is not None:
                return request
            if self._closed and not self._depth:
                raise trio.EndOfChannel
            await self._idle.park()

    def done(self, request: ExecRequest, seconds: float) -> None:
        """`request`, taken with `get`, has been answered after `seconds` on a worker: its
        function holds one worker less."""
        function_id = request.job.function_id
        self._note_duration(function_id, seconds)
        lane = self._lanes[function_id]
        lane.running -= 1
        if not lane.running and not lane.waiting:
            del self._lanes[function_id]
        self._wake_if_waiting()

    def _note_duration(self, function_id: str, seconds: float) -> None:
        streaks = self._fast_streaks
        if seconds >= LEND_FAST_S:
            streaks.pop(function_id, None)
            return
        if function_id not in streaks and len(streaks) >= _STREAKS_KEPT:
            streaks.clear()  # deleted functions must not pile up; streaks are rebuilt fast
        streaks[function_id] = min(streaks.get(function_id, 0) + 1, LEND_AFTER_FAST)

    def close(self) -> None:
        """Refuse new calls; `get` ends once the waiting ones are taken (or drained)."""
        self._closed = True
        self._idle.unpark_all()

    def drain(self) -> list[ExecRequest]:
        """Take every waiting call out of the queue (shutdown: they will never run)."""
        drained = [request for lane in self._ring for request in lane.waiting]
        for lane in self._ring:
            lane.waiting.clear()
        self._ring.clear()
        self._depth = 0
        self._lanes = {fid: lane for fid, lane in self._lanes.items() if lane.running}
        return drained

    def _take(self) -> ExecRequest | None:
        index = self._next_index()
        if index is None:
            return None
        lane = self._ring[index]
        del self._ring[index]
        request = lane.waiting.popleft()
        lane.running += 1
        self._depth -= 1
        if lane.waiting:
            self._ring.append(lane)
        # What is left may now be allowed (a lent worker), and another dispatcher may be idle.
        self._wake_if_waiting()
        return request

    def _next_index(self) -> int | None:
        """Ring position of the function to serve next, or None when nobody may start.

        At most `workers + 1` lanes are looked at: a lane is skipped only when it holds a
        worker already (its own cap or its share reached).
        """
        lend_to: int | None = None
        for index, lane in enumerate(self._ring):
            if not lane.may_start():
                continue
            if lane.running < self.worker_share:
                return index
            if lend_to is None and self._fast_streaks.get(lane.function_id) == LEND_AFTER_FAST:
                lend_to = index
        return lend_to

    def _wake_if_waiting(self) -> None:
        if self._depth and self._idle:
            self._idle.unpark()


def auto_worker_share(workers: int) -> int:
    """`function_max_workers = 0`: all workers but one, so others always find one free."""
    return max(1, workers - 1)


class Pool:
    """The pool actor.

    Owns: the worker processes (`python -m lunard.worker`), one nng Req0 socket per worker
    (ipc under `runtime_dir`, resends disabled: DECISIONS 5), and the bounded job queue.

    Receives: `ExecRequest` on `inbox`, a `JobQueue` of capacity `queue_size` that is fair
    between functions: round-robin dispatch, at most half the queue per function, and at
    most `function_max_workers` workers per function while others wait (0: all but one),
    plus each call's own `max_concurrency`. `lunard.jobs.enqueue` puts requests there.

    Sends: one `RecordWrite` per execution to `records` (the journal), waits until it is
    written, then sends exactly one `ExecOutcome` on the request's `reply` channel (give it
    room for one message). Timeouts and dead workers are
    answered as error results; a worker that overran or died is killed and replaced in the
    background, and the call is never run again.
    """

    def __init__(
        self,
        *,
        workers: int,
        queue_size: int,
        runtime_dir: Path,
        state_path: Path,
        worker_address_space_mb: int,
        records: trio.MemorySendChannel[RecordWrite],
        function_max_workers: int = 0,
        start_timeout_s: float = 30.0,
        stop_timeout_s: float = 5.0,
        python: str = sys.executable,
    ) -> None:
        if workers < 1:
            raise ValueError("a pool needs at least one worker")
        if function_max_workers < 0:
            raise ValueError("function_max_workers must be >= 0")
        self.inbox = JobQueue(
            capacity=queue_size,
            worker_share=function_max_workers or auto_worker_share(workers),
        )
        self._workers = workers
        self._runtime_dir = runtime_dir
        self._state_path = state_path
        self._address_space_mb = worker_address_space_mb
        self._records = records
        self._start_timeout_s = start_timeout_s
        self._stop_timeout_s = stop_timeout_s
        self._python = python
        self._slots: list[_Worker | None] = [None] * workers
        self._slot_ready = [trio.Event() for _ in range(workers)]
        self._live: set[_Worker] = set()
        self._generation = itertools.count()
        self._busy = 0
        self._calls = _Calls()
        self._restarts = 0
        self._workers_changed = trio.Event()
        self._nursery: trio.Nursery | None = None
        self._decoder = result_decoder()

    # ------------------------------------------------------------------ API for other actors

    def queue_depth(self) -> int:
        """Requests waiting for a worker."""
        return self.inbox.depth()

    def busy_workers(self) -> int:
        """Workers running an execution right now."""
        return self._busy

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (slot order, missing while one restarts)."""
        return [w.process.pid for w in self._slots if w is not None]

    def running(self) -> dict[str, int]:
        """Execution id → pid of the worker running it."""
        return dict(self._calls.running)

    def restarts(self) -> int:
        """Workers replaced since start (timeouts, crashes, deaths while idle)."""
        return self._restarts

    async def wait_replaced(self, pid: int) -> None:
        """Wait until the worker `pid` is gone and every slot has a live worker again."""
        while pid in self.worker_pids() or None in self._slots:
            await self._workers_changed.wait()

    async def wait_running(self, execution_id: str) -> int:
        """Wait until `execution_id` has been handed to a worker; return that worker's pid."""
        while execution_id not in self._calls.running:
            await self._calls.changed.wait()
        return self._calls.running[execution_id]

    # ------------------------------------------------------------------ the actor

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start every worker, report ready, then serve the inbox until cancelled.

        Returns when the inbox is closed and drained. On the way out (cancelled or not) the
        inbox is closed, calls still waiting are answered as stopped, and every worker is
        stopped: SIGTERM, then SIGKILL past `stop_timeout_s`.
        """
        self._runtime_dir.mkdir(parents=True, exist_ok=True)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                async with trio.open_nursery() as starting:
                    for slot in range(self._workers):
                        starting.start_soon(self._start_slot, slot)
                task_status.started()
                async with trio.open_nursery() as dispatchers:
                    for slot in range(self._workers):
                        dispatchers.start_soon(self._serve_slot, slot)
                # The inbox is closed: only watchers and restarts are left, and they are moot.
                nursery.cancel_scope.cancel()
        finally:
            self.inbox.close()
            for request in self.inbox.drain():
                self._answer_nowait(request, self._stopped(request.job))
            with trio.move_on_after(self._stop_timeout_s + 1.0) as cleanup:
                cleanup.shield = True
                await self._stop_all()

    async def _serve_slot(self, slot: int) -> None:
        """One dispatcher: take a request only when this slot's worker is up, run it."""
        while True:
            await self._live_worker(slot)
            try:
                request = await self.inbox.get()
            except trio.EndOfChannel:
                return
            taken = time.monotonic()
            try:
                await self._run_taken(slot, request)
            finally:
                self.inbox.done(request, time.monotonic() - taken)

    async def _run_taken(self, slot: int, request: ExecRequest) -> None:
        try:
            # The worker may have died (and been replaced) while we waited for work.
            worker = await self._live_worker(slot)
        except BaseException:
            self._answer_nowait(request, self._stopped(request.job))
            raise
        await self._handle(worker, request)

    async def _live_worker(self, slot: int) -> _Worker:
        while True:
            worker = self._slots[slot]
            # poll(): a worker that died a moment ago must not get a request its watcher has
            # not yet heard about (the request would fail instead of waiting for the new one).
            if worker is not None and not worker.dead and worker.process.poll() is None:
                return worker
            # Set while a dead worker still sits in the slot: the wait is then a checkpoint
            # that lets its watcher retire it.
            await self._slot_ready[slot].wait()

    async def _handle(self, worker: _Worker, request: ExecRequest) -> None:
        job = request.job
        self._busy += 1
        started = time.monotonic()
        try:
            result = await self._call(worker, job)
        except BaseException:
            # Cancelled (shutdown) mid-call: the requester still gets its one answer.
            self._answer_nowait(request, self._stopped(job))
            raise
        finally:
            self._busy -= 1
        duration_ms = int((time.monotonic() - started) * 1000)
        outcome = ExecOutcome(result=result, duration_ms=duration_ms)
        batch = RecordBatch(
            execution=build_record(request, result, duration_ms),
            logs=result.logs,
            ai_requests=result.ai_requests,
            email_requests=result.email_requests,
        )
        try:
            # Record first: the record is durable (journaled) before the caller sees the
            # response.
            written = trio.Event()
            try:
                await self._records.send(RecordWrite(batch, written))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                log.error("journal is gone; execution %s was not recorded", job.execution_id)
            else:
                await written.wait()
            await self._answer(request, outcome)
        except BaseException:
            self._answer_nowait(request, outcome)
            raise

    async def _call(self, worker: _Worker, job: Job) -> JobResult:
        """Run `job` on `worker` within its timeout; never raises for worker failures."""
        worker.busy = True
        try:
            return await self._call_busy(worker, job)
        finally:
            worker.busy = False

    async def _call_busy(self, worker: _Worker, job: Job) -> JobResult:
        timeout = job.timeout_s if job.timeout_s > 0 else DEFAULT_TIMEOUT_S
        payload = WIRE_ENCODER.encode(job)
        raw: bytes | None = None
        lost = False
        self._calls.running[job.execution_id] = worker.process.pid
        self._calls.update()
        try:
            with trio.CancelScope(deadline=trio.current_time() + timeout) as scope:
                worker.call_scope = scope
                if worker.dead:
                    scope.cancel()
                await _send(worker.socket, payload)
                raw = await _receive(worker)
        except pynng.NNGException:
            # With resends off, a closed pipe fails the pending request (ECONNRESET)
            # instead of sending it again: the worker is gone or going.
            lost = True
        finally:
            worker.call_scope = None
            self._calls.running.pop(job.execution_id, None)
            self._calls.update()

        if raw is not None:
            try:
                return self._decoder.decode(raw)
            except msgspec.DecodeError as exc:
                self._retire(worker)
                return self._failure(job, f"the worker process sent an invalid reply ({exc})")
        if not lost and not worker.dead:
            self._retire(worker)
            return self._failure(
                job,
                f"<string>: execution timed out after {_seconds(timeout)} "
                "(context deadline exceeded)",
            )
        if not worker.dead:
            # The socket noticed first; let the process finish dying so the recorded
            # reason is its own, not our SIGKILL.
            with trio.move_on_after(1.0):
                await worker.process.wait()
        self._retire(worker)
        await self._reap(worker)
        reason = _exit_reason(worker.process.returncode)
        return self._failure(
            job,
            f"the worker process running this execution died ({reason}); it was not retried",
        )

    def _stopped(self, job: Job) -> ExecOutcome:
        """The answer to a call that shutdown stopped or kept from starting."""
        failure = self._failure(job, "lunard is shutting down; the execution was stopped")
        return ExecOutcome(result=failure, duration_ms=0)

    def _failure(self, job: Job, message: str) -> JobResult:
        """An error result made by the pool, enhanced and logged like the worker's own."""
        raw = HANDLER_PREFIX + message
        return JobResult(
            execution_id=job.execution_id,
            response=None,
            error=enhance(raw, job.code),
            logs=[JobLog(level="error", message=raw, created_at=time.time())],
        )

    async def _answer(self, request: ExecRequest, outcome: ExecOutcome) -> None:
        try:
            request.reply.send_nowait(outcome)
        except trio.WouldBlock:
            # A zero-capacity reply channel: wait for the requester to take it.
            try:
                await request.reply.send(outcome)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                log.info("requester of %s went away", request.job.execution_id)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            log.info("requester of %s went away", request.job.execution_id)

    def _answer_nowait(self, request: ExecRequest, outcome: ExecOutcome) -> None:
        try:
            request.reply.send_nowait(outcome)
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            log.info("could not tell the requester of %s", request.job.execution_id)

    # ------------------------------------------------------------------ worker lifecycle

    async def _start_slot(self, slot: int) -> None:
        worker = await self._spawn(slot)
        self._install(worker)

    def _install(self, worker: _Worker) -> None:
        assert self._nursery is not None
        self._slots[worker.slot] = worker
        self._nursery.start_soon(self._watch, worker)
        self._slot_ready[worker.slot].set()
        self._notify_workers_changed()

    def _notify_workers_changed(self) -> None:
        self._workers_changed.set()
        self._workers_changed = trio.Event()

    async def _spawn(self, slot: int) -> _Worker:
        """Start one worker process and connect to it once it says it is listening."""
        path = self._runtime_dir / f"w{slot}-{next(self._generation)}.ipc"
        address = f"ipc://{path}"
        process = await trio.lowlevel.open_process(
            [
                self._python,
                "-m",
                "lunard.worker",
                "--address",
                address,
                "--state",
                str(self._state_path),
                "--address-space-mb",
                str(self._address_space_mb),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        socket: pynng.Req0 | None = None
        try:
            with trio.fail_after(self._start_timeout_s):
                await _read_ready(process)
            socket = pynng.Req0(resend_time=-1)  # never re-send a request: DECISIONS 5
            socket.dial(address, block=True)
        except BaseException as exc:
            if socket is not None:
                socket.close()
            process.kill()
            with trio.CancelScope(shield=True):
                await process.wait()
            path.unlink(missing_ok=True)
            if isinstance(exc, trio.TooSlowError):
                raise WorkerStartError(
                    f"worker {slot} did not start within {self._start_timeout_s:g}s"
                ) from exc
            raise
        worker = _Worker(
            slot=slot, process=process, socket=socket, recv_fd=socket.recv_fd, path=path
        )
        self._live.add(worker)
        return worker

    async def _watch(self, worker: _Worker) -> None:
        """Notice a worker's death at once, busy or idle."""
        await worker.process.wait()
        worker.dead = True
        if worker.call_scope is not None:
            worker.call_scope.cancel()  # the dispatcher retires it and records the failure
        elif not worker.busy and self._slots[worker.slot] is worker:
            log.warning(
                "idle worker %d (pid %d) exited (%s); starting another",
                worker.slot,
                worker.process.pid,
                _exit_reason(worker.process.returncode),
            )
            self._retire(worker)

    def _retire(self, worker: _Worker) -> None:
        """Take `worker` out of its slot, kill it, and start its replacement in the background."""
        if self._slots[worker.slot] is not worker:
            return
        self._slots[worker.slot] = None
        self._slot_ready[worker.slot] = trio.Event()
        self._restarts += 1
        self._notify_workers_changed()
        worker.dead = True
        _kill(worker.process)
        _close(worker)
        assert self._nursery is not None
        self._nursery.start_soon(self._replace, worker)

    async def _replace(self, old: _Worker) -> None:
        await self._reap(old)
        for attempt in itertools.count():
            try:
                new = await self._spawn(old.slot)
            except (WorkerStartError, OSError) as exc:
                delay = RESTART_BACKOFF_S[min(attempt, len(RESTART_BACKOFF_S) - 1)]
                log.error("restarting worker %d failed (%s); retrying in %gs", old.slot, exc, delay)
                await trio.sleep(delay)
                continue
            self._install(new)
            return

    async def _reap(self, worker: _Worker) -> None:
        await worker.process.wait()
        self._live.discard(worker)
        worker.path.unlink(missing_ok=True)

    async def _stop_all(self) -> None:
        """SIGTERM every worker, SIGKILL those still there after `stop_timeout_s`."""
        workers = list(self._live)
        for worker in workers:
            _close(worker)
            if worker.process.returncode is None:
                worker.process.terminate()
        with trio.move_on_after(self._stop_timeout_s):
            for worker in workers:
                await worker.process.wait()
        for worker in workers:
            _kill(worker.process)
            await worker.process.wait()
            worker.path.unlink(missing_ok=True)
        self._live.clear()
        self._slots = [None] * self._workers


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


async def _receive(worker: _Worker) -> bytes:
    """The reply to the request in flight.

    Waits on nng's receive-notification fd in trio's own epoll instead of pynng's `arecv`,
    whose completion hops through an nng thread and `run_sync_soon` (measured: ~1.6x the
    round trips per second). A dead worker never makes the fd readable; its watcher
    cancels the call instead.
    """
    while True:
        try:
            reply: bytes = worker.socket.recv(block=False)
        except pynng.TryAgain:
            await trio.lowlevel.wait_readable(worker.recv_fd)
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
                    f"worker process exited during start-up ({_exit_reason(code)}); "
                    "see its stderr above"
                )
            seen += chunk
    finally:
        await process.stdout.aclose()
    if seen != READY_LINE:
        raise WorkerStartError(f"worker process said {seen!r} instead of ready")


def _close(worker: _Worker) -> None:
    # Wake (with ClosedResourceError) anything still waiting on the fd before it goes away.
    trio.lowlevel.notify_closing(worker.recv_fd)
    worker.socket.close()


def _kill(process: trio.Process) -> None:
    if process.returncode is None:
        # it may exit between the check and the kill
        with contextlib.suppress(ProcessLookupError):
            process.kill()


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "unknown signal"
        return f"killed by signal {-code}, {name}"
    return f"exit status {code}"


def _seconds(value: float) -> str:
    return f"{value:g}s" if not math.isinf(value) else "inf"


def response_json(response: JobResponse) -> str:
    """The saved response (http-api §4.7): statusCode, headers, body, isBase64Encoded.

    `JobResponse.body` holds decoded bytes when the handler set `isBase64Encoded`, so the
    base64 text is rebuilt for the record. Bodies past 1 MiB are cut and marked.
    """
    body = response.body
    if response.is_base64:
        body = base64.b64encode(body)
    text = body[:MAX_SAVED_BODY].decode("utf-8", "replace")
    if len(body) > MAX_SAVED_BODY:
        text += TRUNCATED_SUFFIX
    document = {
        "statusCode": response.status_code,
        "headers": response.headers,
        "body": text,
        "isBase64Encoded": response.is_base64,
    }
    return msgspec.json.encode(document).decode()


def build_record(request: ExecRequest, result: JobResult, duration_ms: int) -> ExecutionRecord:
    """The execution record of one finished call (lua-runtime §1 bookkeeping)."""
    job = request.job
    response = result.response
    failed = result.error is not None or (response is not None and response.status_code >= 400)
    saved = None
    if request.save_response and response is not None and result.error is None:
        saved = response_json(response)
    return ExecutionRecord(
        id=job.execution_id,
        function_id=job.function_id,
        function_version_id=job.version_id,
        status="error" if failed else "success",
        duration_ms=duration_ms,
        error_message=result.error,
        event_json=request.event_json,
        response_json=saved,
        trigger=request.trigger,
        created_at=job.started_at,
    )
