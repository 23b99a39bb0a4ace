"""Starting a run, the one way HTTP calls and scheduled runs share (`start_run`): build the
`Job` for the target's active version, queue it on the pool with its stored event, wait for
the one answer, and read the status the caller reports (`Run.status`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import trio

from lunard.config import Config
from lunard.errors import InternalError, Overloaded
from lunard.ids import new_id
from lunard.messages import ExecOutcome, ExecRequest, HttpEvent, Job, Trigger
from lunard.state.runtime import RuntimeTarget


def build_job(config: Config, target: RuntimeTarget, event: HttpEvent) -> Job:
    """A Job for the target's active version (which must exist) with a new execution id."""
    if target.version_id is None or target.code is None:
        raise ValueError(f"function {target.function_id} has no active version")
    return Job(
        execution_id=new_id(),
        function_id=target.function_id,
        function_name=target.name,
        version_id=target.version_id,
        version_number=target.version_number or 0,
        code=target.code,
        env=target.env,
        event=event,
        started_at=int(time.time()),
        base_url=config.public_url,
        timeout_s=float(config.timeout_seconds),
        limits=config.job_limits,
    )


QUEUE_FULL = "Too many executions queued, retry later"
SHARE_FULL = (
    "Too many executions of this function queued (its share of the queue is full), retry later"
)
THROTTLED = "Function is throttled (max_concurrency is 0)"


class PoolInbox(Protocol):
    """Where requests for the pool go: the pool's `JobQueue`, or any memory channel.

    `send_nowait` never blocks. It raises `Overloaded` (or `trio.WouldBlock`) when there is
    no room, `Throttled` for a function that may not run, and `trio.ClosedResourceError`
    (or `BrokenResourceError`) once the pool is gone.
    """

    def send_nowait(self, request: ExecRequest, /) -> None: ...


def enqueue(pool: PoolInbox, request: ExecRequest) -> None:
    """Queue `request` on the pool, or raise at once: `Overloaded` when the queue or the
    function's share of it is full (503 with Retry-After for HTTP callers; a skipped run for
    the scheduler), `Throttled` when the function's `max_concurrency` is 0."""
    try:
        pool.send_nowait(request)
    except trio.WouldBlock:
        raise Overloaded(QUEUE_FULL) from None
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        raise InternalError("Execution pool is not running") from None


async def execute(
    pool: PoolInbox,
    job: Job,
    *,
    trigger: Trigger,
    save_response: bool,
    max_concurrency: int | None = None,
) -> ExecOutcome:
    """Queue `job` on the pool and wait for its one answer; it is never queued twice."""
    send, receive = trio.open_memory_channel[ExecOutcome](1)
    request = ExecRequest(
        job=job,
        trigger=trigger,
        save_response=save_response,
        reply=send,
        max_concurrency=max_concurrency,
    )
    enqueue(pool, request)
    with receive:  # memory channels close synchronously: no async exit per call
        try:
            return await receive.receive()
        except trio.EndOfChannel:
            raise InternalError("Execution pool stopped before answering") from None


@dataclass(frozen=True, slots=True)
class Run:
    """A finished run: the job that ran and the pool's answer."""

    job: Job
    outcome: ExecOutcome

    @property
    def failed(self) -> bool:
        """The handler raised, timed out or returned no response (`/fn` answers 500)."""
        return self.outcome.result.error is not None or self.outcome.result.response is None

    @property
    def status(self) -> int:
        """The status `/fn` answers for this run: 500 when it failed, else the handler's
        `statusCode` (200 when it gave none)."""
        response = self.outcome.result.response
        if self.failed or response is None:
            return 500
        return response.status_code or 200


async def start_run(
    config: Config, pool: PoolInbox, target: RuntimeTarget, event: HttpEvent, trigger: Trigger
) -> Run:
    """Run `event` on the target's active version (which must exist) and wait for it.

    Raises what `enqueue` raises (`Overloaded`, `Throttled`, `InternalError`) before
    anything ran, and `InternalError` when the pool stops before answering.
    """
    job = build_job(config, target, event)
    outcome = await execute(
        pool,
        job,
        trigger=trigger,
        save_response=target.save_response,
        max_concurrency=target.max_concurrency,
    )
    return Run(job, outcome)
