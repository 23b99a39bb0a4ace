"""Every message that crosses an actor or process boundary.

Two families:
- wire messages (msgspec Structs) travel between the pool and worker processes over nng;
  they live in the trio-free `lunard.wire` and are re-exported here;
- actor messages (frozen dataclasses) travel over trio memory channels inside the daemon.
  A message that needs an answer carries its own reply channel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import trio

from lunard.wire import (
    WIRE_ENCODER,
    AIRequestRow,
    EmailRequestRow,
    HttpEvent,
    Job,
    JobLimits,
    JobLog,
    JobResponse,
    JobResult,
    LogLevel,
    Trigger,
    job_decoder,
    result_decoder,
)

# Re-exported: daemon code takes every message from here.
__all__ = [
    "WIRE_ENCODER",
    "AIRequestRow",
    "EmailRequestRow",
    "HttpEvent",
    "Job",
    "JobLimits",
    "JobLog",
    "JobResponse",
    "JobResult",
    "LogLevel",
    "Trigger",
    "job_decoder",
    "result_decoder",
]


@dataclass(frozen=True, slots=True)
class ExecRequest:
    """http/scheduler -> pool: run `job` and answer on `reply`.

    The worker makes the masked event to store (`JobResult.event_json`), the pool only when
    no worker answered. `save_response` asks the pool to keep the response in the execution record;
    `max_concurrency` is the function's own cap on the workers its calls may hold at once
    (None: no cap of its own). The pool always answers exactly once, with a `JobResult`
    whose `error` explains a timeout or a dead worker.
    """

    job: Job
    trigger: Trigger
    save_response: bool
    reply: trio.MemorySendChannel[ExecOutcome]
    max_concurrency: int | None = None


@dataclass(frozen=True, slots=True)
class ExecOutcome:
    """pool -> requester: the worker's result and the measured wall-clock duration."""

    result: JobResult
    duration_ms: int


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    """One finished execution (http-api §3.3) as the sink stores it."""

    id: str
    function_id: str
    function_version_id: str
    status: Literal["success", "error"]
    duration_ms: int
    error_message: str | None
    event_json: str
    response_json: str | None
    trigger: Trigger
    created_at: int


@dataclass(frozen=True, slots=True)
class RecordBatch:
    """pool -> sink: an execution with everything it produced."""

    execution: ExecutionRecord
    logs: list[JobLog] = field(default_factory=list)
    ai_requests: list[AIRequestRow] = field(default_factory=list)
    email_requests: list[EmailRequestRow] = field(default_factory=list)
    # Position in the journal (lunard.records.journal), so the sink can say what it has committed;
    # 0 when the batch was not journaled.
    journal_seq: int = 0


class Written(Protocol):
    """What a `RecordWrite`'s receiver sets once: a `trio.Event`, or the pool's
    `AnswerWhenWritten`, which answers the call when set."""

    def set(self) -> None: ...


@dataclass(frozen=True, slots=True)
class RecordWrite:
    """pool -> journal (or the PostgreSQL sink): a finished execution's records.

    The receiver sets `written` once the batch is as durable as the `durability` setting
    asks (in the kernel, or on disk) and has passed it on to the sink; the call is answered
    only then (the pool's `written` sends the answer). `written` is always set exactly
    once, also when the write failed or on shutdown, so no call waits forever.
    """

    batch: RecordBatch
    written: Written


@dataclass(frozen=True, slots=True)
class SinkQuery:
    """anyone -> sink: run `run(connection)` after a flush and send its return on `reply`.

    `run` executes on the sink's thread with the sink's DuckDB connection; exceptions are
    sent back and re-raised by the caller.
    """

    run: Callable[[Any], Any]
    reply: trio.MemorySendChannel[Any]


@dataclass(frozen=True, slots=True)
class DeleteRecords:
    """anyone -> sink: delete executions (and their logs, AI and email rows).

    Exactly one selector is used: a function, a version, or per-function cutoffs
    (`older_than`: function id -> Unix seconds). The number deleted is sent on `reply`
    when given.
    """

    function_id: str | None = None
    version_id: str | None = None
    older_than: dict[str, int] | None = None
    reply: trio.MemorySendChannel[int] | None = None


@dataclass(frozen=True, slots=True)
class ScheduleChanged:
    """http -> scheduler: re-read this function's schedule (created, updated, deleted)."""

    function_id: str
