"""Every message that crosses an actor or process boundary.

Two families:
- wire messages (msgspec Structs) travel between the pool and worker processes over nng,
  encoded as msgpack with `WIRE_ENCODER` / `job_decoder` / `result_decoder`;
- actor messages (frozen dataclasses) travel over trio memory channels inside the daemon.
  A message that needs an answer carries its own reply channel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec
import trio

Trigger = Literal["http", "cron"]
LogLevel = Literal["debug", "info", "warn", "error"]


# --------------------------------------------------------------------------- wire (pool <-> worker)


class HttpEvent(msgspec.Struct, frozen=True):
    """The `event` table a handler receives (lua-runtime §2.2), unmasked."""

    method: str
    path: str
    relative_path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes


class JobLimits(msgspec.Struct, frozen=True):
    """Per-execution limits enforced inside the worker (DECISIONS 4)."""

    max_memory_bytes: int
    max_log_entries: int
    max_log_bytes: int
    http_max_response_bytes: int


class Job(msgspec.Struct, frozen=True):
    """One execution for a worker: everything it needs, nothing it must look up but KV."""

    execution_id: str
    function_id: str
    function_name: str
    version_id: str
    version_number: int
    code: str
    env: dict[str, str]
    event: HttpEvent
    started_at: int  # Unix seconds (ctx.startedAt)
    base_url: str
    timeout_s: float  # wall-clock budget; the pool kills the worker past it
    limits: JobLimits


class JobLog(msgspec.Struct, frozen=True):
    """One `log.*` line, already masked by the worker."""

    level: LogLevel
    message: str
    created_at: float  # Unix seconds with fraction, keeps insertion order within a second


class JobResponse(msgspec.Struct, frozen=True):
    """The handler's returned table, converted (lua-runtime §2.4).

    `status_code` is the raw converted value (0 when the handler gave a non-number); the
    HTTP layer sends 0 as 200, `response_json` records it as given.
    """

    status_code: int
    headers: dict[str, str]
    body: bytes
    is_base64: bool


class AIRequestRow(msgspec.Struct, frozen=True):
    """A tracked `ai.chat` call (http-api §3.5), JSON fields already masked."""

    id: str
    provider: str
    model: str
    endpoint: str
    request_json: str
    response_json: str | None
    status: str
    error_message: str | None
    input_tokens: int | None
    output_tokens: int | None
    duration_ms: int
    created_at: int


class EmailRequestRow(msgspec.Struct, frozen=True):
    """A tracked `email.send` call (http-api §3.6), JSON fields already masked."""

    id: str
    from_address: str
    to_addresses: list[str]
    subject: str
    has_text: bool
    has_html: bool
    request_json: str
    response_json: str | None
    status: str
    error_message: str | None
    email_id: str | None
    duration_ms: int
    created_at: int


class JobResult(msgspec.Struct, frozen=True):
    """What a worker answers for one Job. `error` is the enhanced error text (§8)."""

    execution_id: str
    response: JobResponse | None
    error: str | None
    logs: list[JobLog] = []
    ai_requests: list[AIRequestRow] = []
    email_requests: list[EmailRequestRow] = []


WIRE_ENCODER = msgspec.msgpack.Encoder()


def job_decoder() -> msgspec.msgpack.Decoder[Job]:
    return msgspec.msgpack.Decoder(Job)


def result_decoder() -> msgspec.msgpack.Decoder[JobResult]:
    return msgspec.msgpack.Decoder(JobResult)


# --------------------------------------------------------------------------- actor messages


@dataclass(frozen=True, slots=True)
class ExecRequest:
    """http/scheduler -> pool: run `job` and answer on `reply`.

    `event_json` is the masked event to store; `save_response` asks the pool to keep the
    response in the execution record; `max_concurrency` is the function's own cap on the
    workers its calls may hold at once (None: no cap of its own). The pool always answers
    exactly once, with a `JobResult` whose `error` explains a timeout or a dead worker.
    """

    job: Job
    trigger: Trigger
    event_json: str
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
    # Position in the journal (lunard.journal), so the sink can say what it has committed;
    # 0 when the batch was not journaled.
    journal_seq: int = 0


@dataclass(frozen=True, slots=True)
class RecordWrite:
    """pool -> journal: a finished execution's records.

    The journal sets `written` once the batch is as durable as the `durability` setting
    asks (in the kernel, or on disk) and has passed it on to the sink; the pool answers the
    call only after that. `written` is always set, also when the write failed or on
    shutdown, so the pool never waits forever.
    """

    batch: RecordBatch
    written: trio.Event


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
