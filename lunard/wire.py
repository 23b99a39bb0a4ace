"""What crosses the process boundary between the pool and its workers: msgspec Structs
encoded as msgpack with `WIRE_ENCODER` / `job_decoder` / `result_decoder`.

Trio-free on purpose: a worker process imports this and never imports trio (that import
alone cost 0.5 s of every worker start, paid again after every timeout kill).
"""

from __future__ import annotations

from typing import Literal

import msgspec

# The line a worker prints on stdout once its socket listens.
READY_LINE = b"ready\n"

# Upstream: an execution timeout of 0 (or a non-integer setting) means 5 minutes.
DEFAULT_TIMEOUT_S = 300

Trigger = Literal["http", "cron"]
LogLevel = Literal["debug", "info", "warn", "error"]


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
    """What a worker answers for one Job. `error` is the enhanced error text (§8);
    `event_json` the masked event the execution record stores (`masking.masked_event`),
    None when the worker could not make it (then the pool does)."""

    execution_id: str
    response: JobResponse | None
    error: str | None
    logs: list[JobLog] = []
    ai_requests: list[AIRequestRow] = []
    email_requests: list[EmailRequestRow] = []
    event_json: str | None = None


WIRE_ENCODER = msgspec.msgpack.Encoder()


def job_decoder() -> msgspec.msgpack.Decoder[Job]:
    return msgspec.msgpack.Decoder(Job)


def result_decoder() -> msgspec.msgpack.Decoder[JobResult]:
    return msgspec.msgpack.Decoder(JobResult)


# --------------------------------------------------------------------------- actor messages
