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

A worker that fails to start is retried with backoff (`RESTART_BACKOFF_S`); too many
failures in a row make the daemon not ready and then stop it (`worker_process.BootPolicy`).
"""

from __future__ import annotations

import itertools
import logging
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import msgspec
import trio

from lunard.execution_record import build_record
from lunard.job_queue import JobQueue, auto_worker_share
from lunard.messages import (
    WIRE_ENCODER,
    ExecOutcome,
    ExecRequest,
    Job,
    JobLog,
    JobResult,
    RecordBatch,
    RecordWrite,
    result_decoder,
)
from lunard.wire import DEFAULT_TIMEOUT_S
from lunard.worker.enhancer import HANDLER_PREFIX, enhance
from lunard.worker_process import (
    BootPolicy,
    CallTimedOut,
    ReadinessReport,
    WorkerLost,
    WorkerProcess,
    WorkerStartError,
    WorkerState,
)

log = logging.getLogger(__name__)

RESTART_BACKOFF_S = (0.1, 0.5, 1.0, 2.0, 5.0)


class Pool:
    """The pool actor: dispatch of queued calls onto worker processes.

    Owns: one `WorkerProcess` per slot (`python -m lunard.worker`, an nng Req0 socket over
    ipc under `runtime_dir`) and the job queue.

    Receives: `ExecRequest` on `inbox`, a `JobQueue` of capacity `queue_size` that is fair
    between functions: round-robin dispatch, at most half the queue per function, and at
    most `function_max_workers` workers per function while others wait (0: all but one),
    plus each call's own `max_concurrency`. `lunard.jobs.enqueue` puts requests there.

    Sends: one `RecordWrite` per execution to `records` (the journal) and goes on with its
    next call; the journal sets the write's `written` (`AnswerWhenWritten`) once the record
    is durable, which sends exactly one `ExecOutcome` on the request's `reply` channel
    (give it room for one message). Timeouts and dead workers are answered as error results; a
    worker that overran or died is killed and replaced in the background, and the call is
    never run again. Workers that cannot start are reported to `readiness` and end the
    pool with `WorkerBootError` (see the module docstring).
    """

    def __init__(
        self,
        *,
        workers: int,
        queue_size: int,
        runtime_dir: Path,
        state_path: Path | str,
        worker_address_space_mb: int,
        records: trio.MemorySendChannel[RecordWrite],
        function_max_workers: int = 0,
        start_timeout_s: float = 30.0,
        stop_timeout_s: float = 5.0,
        python: str = sys.executable,
        readiness: ReadinessReport | None = None,
        restart_backoff_s: Sequence[float] = RESTART_BACKOFF_S,
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
        # Handed to each worker as `--state`: the SQLite file, or the PostgreSQL URL.
        self._state_location = str(state_path)
        self._address_space_mb = worker_address_space_mb
        self._records = records
        self._start_timeout_s = start_timeout_s
        self._stop_timeout_s = stop_timeout_s
        self._python = python
        self._boot_policy = BootPolicy(workers, readiness, python)
        self._backoff = tuple(restart_backoff_s) or RESTART_BACKOFF_S
        self._slots: list[WorkerProcess | None] = [None] * workers
        self._slot_ready = [trio.Event() for _ in range(workers)]
        self._live: set[WorkerProcess] = set()
        self._generation = itertools.count()
        self._restarts = 0
        self._fatal: Exception | None = None  # why the pool stops (WorkerBootError)
        # Set when the workers or the calls in flight change, made only while somebody
        # waits (tests), so the per-call path pays a None check, not an Event.
        self._changed: trio.Event | None = None
        self._nursery: trio.Nursery | None = None
        self._decoder = result_decoder()

    # ------------------------------------------------------------------ API for other actors

    def queue_depth(self) -> int:
        """Requests waiting for a worker."""
        return self.inbox.depth()

    def busy_workers(self) -> int:
        """Workers running an execution right now."""
        return sum(1 for w in self._slots if w is not None and w.state is WorkerState.BUSY)

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (slot order, missing while one restarts)."""
        return [w.pid for w in self._slots if w is not None]

    def running(self) -> dict[str, int]:
        """Execution id → pid of the worker running it."""
        return {w.execution_id: w.pid for w in self._slots if w is not None and w.execution_id}

    def restarts(self) -> int:
        """Workers replaced since start (timeouts, crashes, deaths while idle)."""
        return self._restarts

    async def wait_replaced(self, pid: int) -> None:
        """Wait until the worker `pid` is gone and every slot has a live worker again."""
        while pid in self.worker_pids() or None in self._slots:
            await self._wait_changed()

    async def wait_running(self, execution_id: str) -> int:
        """Wait until `execution_id` has been handed to a worker; return that worker's pid."""
        while execution_id not in self.running():
            await self._wait_changed()
        return self.running()[execution_id]

    async def _wait_changed(self) -> None:
        if self._changed is None:
            self._changed = trio.Event()
        await self._changed.wait()

    def _notify_changed(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

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
            if self._fatal is not None:
                raise self._fatal
        finally:
            self.inbox.close()
            for request in self.inbox.drain():
                _answer_nowait(request, self._stopped(request.job))
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
            _answer_nowait(request, self._stopped(request.job))
            raise
        await self._handle(worker, request)

    async def _live_worker(self, slot: int) -> WorkerProcess:
        while True:
            worker = self._slots[slot]
            if worker is not None and worker.usable():
                return worker
            # Set while a dead worker still sits in the slot: the wait is then a checkpoint
            # that lets its watcher retire it.
            await self._slot_ready[slot].wait()

    async def _handle(self, worker: WorkerProcess, request: ExecRequest) -> None:
        job = request.job
        started = time.monotonic()
        try:
            result = await self._call(worker, job)
        except BaseException:
            # Cancelled (shutdown) mid-call: the requester still gets its one answer.
            _answer_nowait(request, self._stopped(job))
            raise
        duration_ms = int((time.monotonic() - started) * 1000)
        outcome = ExecOutcome(result=result, duration_ms=duration_ms)
        batch = RecordBatch(
            execution=build_record(request, result, duration_ms),
            logs=result.logs,
            ai_requests=result.ai_requests,
            email_requests=result.email_requests,
        )
        # Record first: the journal answers the caller once the record is durable
        # (`AnswerWhenWritten`), and this dispatcher takes its next call meanwhile.
        write = RecordWrite(batch, AnswerWhenWritten(request, outcome))
        try:
            try:
                self._records.send_nowait(write)
            except trio.WouldBlock:
                await self._records.send(write)  # the journal is behind: wait for room
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            log.error("journal is gone; execution %s was not recorded", job.execution_id)
            _answer_nowait(request, outcome)
        except BaseException:
            _answer_nowait(request, outcome)  # cancelled while waiting for room
            raise

    async def _call(self, worker: WorkerProcess, job: Job) -> JobResult:
        """Run `job` on `worker` within its timeout; never raises for worker failures."""
        timeout = job.timeout_s if job.timeout_s > 0 else DEFAULT_TIMEOUT_S
        payload = WIRE_ENCODER.encode(job)
        if self._changed is not None:  # a test waits for this call to start
            self._notify_changed()
        try:
            raw = await worker.call(job.execution_id, payload, trio.current_time() + timeout)
        except CallTimedOut:
            self._retire(worker)
            return self._failure(
                job,
                f"<string>: execution timed out after {_seconds(timeout)} "
                "(context deadline exceeded)",
            )
        except WorkerLost:
            return await self._lost(worker, job)
        try:
            return self._decoder.decode(raw)
        except msgspec.DecodeError as exc:
            self._retire(worker)
            return self._failure(job, f"the worker process sent an invalid reply ({exc})")

    async def _lost(self, worker: WorkerProcess, job: Job) -> JobResult:
        if worker.process.returncode is None:
            # The socket noticed first; let the process finish dying so the recorded
            # reason is its own, not our SIGKILL.
            with trio.move_on_after(1.0):
                await worker.process.wait()
        self._retire(worker)
        await self._reap(worker)
        return self._failure(
            job,
            f"the worker process running this execution died ({worker.exit_reason()}); "
            "it was not retried",
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

    # ------------------------------------------------------------------ worker lifecycle

    async def _start_slot(self, slot: int) -> None:
        worker = await self._boot(slot)
        if worker is not None:
            self._install(worker)

    def _install(self, worker: WorkerProcess) -> None:
        assert self._nursery is not None
        self._slots[worker.slot] = worker
        self._nursery.start_soon(self._watch, worker)
        self._slot_ready[worker.slot].set()
        self._notify_changed()

    async def _boot(self, slot: int) -> WorkerProcess | None:
        """Start the worker of `slot`, retrying with backoff; None once the pool must stop
        (too many failures: `self._fatal` is set and the pool's nursery cancelled)."""
        for attempt in itertools.count():
            try:
                worker = await self._spawn(slot)
            except (WorkerStartError, OSError) as exc:
                fatal = self._boot_policy.failed(slot, str(exc))
                if fatal is not None:
                    assert self._nursery is not None
                    self._fatal = fatal
                    self._nursery.cancel_scope.cancel()
                    return None
                await trio.sleep(self._backoff[min(attempt, len(self._backoff) - 1)])
                continue
            self._boot_policy.started(slot)
            return worker
        raise AssertionError("unreachable")

    async def _spawn(self, slot: int) -> WorkerProcess:
        """Start one worker process and connect to it once it says it is listening."""
        assert self._nursery is not None
        path = self._runtime_dir / f"w{slot}-{next(self._generation)}.ipc"
        argv = [
            self._python,
            "-m",
            "lunard.worker",
            "--address",
            f"ipc://{path}",
            "--state",
            self._state_location,
            "--address-space-mb",
            str(self._address_space_mb),
        ]
        worker = await WorkerProcess.start(
            slot, path, argv, start_timeout_s=self._start_timeout_s, nursery=self._nursery
        )
        self._live.add(worker)
        return worker

    async def _watch(self, worker: WorkerProcess) -> None:
        """Notice a worker's death at once, busy or idle."""
        was_busy = await worker.watch()
        # A busy worker's call is cancelled by watch(); its dispatcher retires it and
        # records the failure.
        if not was_busy and self._slots[worker.slot] is worker:
            log.warning(
                "idle worker %d (pid %d) exited (%s); starting another",
                worker.slot,
                worker.pid,
                worker.exit_reason(),
            )
            self._retire(worker)

    def _retire(self, worker: WorkerProcess) -> None:
        """Take `worker` out of its slot, kill it, and start its replacement in the background."""
        if self._slots[worker.slot] is not worker:
            return
        self._slots[worker.slot] = None
        self._slot_ready[worker.slot] = trio.Event()
        self._restarts += 1
        self._notify_changed()
        worker.retire()
        assert self._nursery is not None
        self._nursery.start_soon(self._replace, worker)

    async def _replace(self, old: WorkerProcess) -> None:
        """Start the slot's next worker at once; the old one is reaped meanwhile."""
        assert self._nursery is not None
        self._nursery.start_soon(self._reap, old)
        new = await self._boot(old.slot)
        if new is not None:
            self._install(new)

    async def _reap(self, worker: WorkerProcess) -> None:
        await worker.wait()
        self._live.discard(worker)

    async def _stop_all(self) -> None:
        """SIGTERM every worker, SIGKILL those still there after `stop_timeout_s`."""
        workers = list(self._live)
        for worker in workers:
            worker.close()
            worker.terminate()
        with trio.move_on_after(self._stop_timeout_s):
            for worker in workers:
                await worker.process.wait()
        for worker in workers:
            worker.retire()
            await worker.wait()
        self._live.clear()
        self._slots = [None] * self._workers


class AnswerWhenWritten:
    """The `written` of a pool's `RecordWrite`: setting it (the journal, once the record is
    durable; always exactly once, also when the write failed or at shutdown) sends the
    call's outcome to its requester."""

    __slots__ = ("outcome", "request")

    def __init__(self, request: ExecRequest, outcome: ExecOutcome) -> None:
        self.request = request
        self.outcome = outcome

    def set(self) -> None:
        _answer_nowait(self.request, self.outcome)


def _answer_nowait(request: ExecRequest, outcome: ExecOutcome) -> None:
    """Send the one answer (the reply channel has room for it), or log that nobody took it."""
    try:
        request.reply.send_nowait(outcome)
    except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
        log.info("could not tell the requester of %s", request.job.execution_id)


def _seconds(value: float) -> str:
    return f"{value:g}s" if not math.isinf(value) else "inf"
