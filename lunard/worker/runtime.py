"""Run one Job in a fresh sandboxed Lua state and convert the outcome (lua-runtime §1–2).

Order of operations: new state → host modules → sandbox → load the code as chunk `<string>`
(any error: `failed to load Lua code: <msg>`) → global `handler` must be a function
(`handler function not found in Lua code`) → `handler(ctx, event)` in protected mode
(`failed to execute handler: <msg>`) → the result must be a table (`handler did not return
a table`) → response conversion (§2.4). Every error text is passed through the enhancer
(§8) and also appended to the execution's logs at level `error` (DECISIONS 12).

Response conversion follows §2.4 plus two decisions:
- DECISIONS 10: a status outside 100–599 is an execution error; 0 (a non-numeric
  `statusCode`) is kept as 0 in `JobResponse.status_code` and sent as 200 by the HTTP layer.
- DECISIONS 11: with `isBase64Encoded = true` the body is decoded here, so
  `JobResponse.body` always holds the bytes to send; `is_base64` keeps the flag for the
  saved response. A body that is not valid base64 is an execution error.

The state a job runs in may be prepared ahead (`prepare_state`, while the worker is idle):
new state, host modules and sandbox are then paid before the call arrives (~0.15 ms). A
prepared state is unbound — its host modules reach no execution and it has no memory cap —
until `run_job` binds it to its one job; it serves that job only and is then dropped.

The masked copy of the event that the execution record stores (`JobResult.event_json`) is
made here too, so the daemon's HTTP loop does not pay for it on every call.
"""

from __future__ import annotations

import binascii
import math
import time
from dataclasses import dataclass
from typing import Any

from lupa import luajit21

from lunard.masking import mask_log_message, masked_event
from lunard.state.dialect import Conn
from lunard.wire import DEFAULT_TIMEOUT_S, Job, JobLog, JobResponse, JobResult
from lunard.worker import sandbox
from lunard.worker.enhancer import HANDLER_PREFIX, LOAD_PREFIX, enhance
from lunard.worker.host import HostContext
from lunard.worker.http_client import OutboundClient
from lunard.worker.modules import install_modules
from lunard.worker.modules.bridge import Bridge, number_to_string
from lunard.worker.modules.errors import OUT_OF_MEMORY

NO_HANDLER = "handler function not found in Lua code"
NOT_A_TABLE = "handler did not return a table"


class _ExecutionError(Exception):
    """An execution error raised while converting the handler's result (raw text)."""


def _as_string(value: Any) -> str:
    """§5.2 "as-string" for values the runner already reduced to str/number/"" ."""
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number_to_string(value)
    return ""


def _clean(text: str) -> str:
    """Text safe for the wire: bytes that were not UTF-8 become U+FFFD."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


def _trim_traceback(message: str) -> str:
    """Keep the error line and only the traceback frames in the user's chunk.

    LuaJIT's traceback also lists the engine's own frames (`[C]: in function 'xpcall'`,
    the runner); they mean nothing to the function's author.
    """
    head, sep, rest = message.partition("\nstack traceback:\n")
    if not sep:
        return message
    frames = [f for f in rest.split("\n") if f.startswith("\t<string>:")]
    if not frames:
        return head
    return head + "\nstack traceback:\n" + "\n".join(frames)


def _status(value: Any) -> int:
    if value is None:
        return 200
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _ExecutionError(f"handler returned an invalid statusCode ({value})")
        value = math.trunc(value)
    if value != 0 and not 100 <= value <= 599:
        raise _ExecutionError(
            f"handler returned statusCode {value}; it must be between 100 and 599"
        )
    return int(value)


def _body(value: Any) -> bytes:
    if isinstance(value, str):
        return sandbox.lua_bytes(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number_to_string(value).encode()
    return b""


def _decode_base64(body: bytes) -> bytes:
    # Go's StdEncoding: padding required, CR/LF ignored, anything else invalid.
    try:
        return binascii.a2b_base64(body.replace(b"\r", b"").replace(b"\n", b""), strict_mode=True)
    except binascii.Error as exc:
        raise _ExecutionError(
            f"handler returned isBase64Encoded = true but the body is not valid base64: {exc}"
        ) from exc


def _response(outcome: tuple[Any, ...]) -> JobResponse:
    _, status, body, flat, is_base64 = outcome
    values = list(flat.values())
    headers = {
        _as_string(values[i]): _as_string(values[i + 1]) for i in range(0, len(values) - 1, 2)
    }
    raw_body = _body(body)
    if is_base64:
        raw_body = _decode_base64(raw_body)
    return JobResponse(
        status_code=_status(status), headers=headers, body=raw_body, is_base64=bool(is_base64)
    )


def _runner_args(job: Job) -> list[Any]:
    """The runner's arguments: ctx fields, event fields, then header and query pairs."""
    event = job.event
    args: list[Any] = [
        job.code,
        job.execution_id,
        job.function_id,
        job.started_at,
        # Absent fields stay missing keys (nil), never "" (lua-runtime §2.1).
        str(job.version_number) if job.version_number > 0 else None,
        job.base_url or None,
        # DECISION (lua-runtime §2.1): lunard fills functionName and requestId.
        job.function_name or None,
        job.execution_id,
        event.method,
        event.path,
        event.relative_path,
        event.body,  # bytes become a Lua string byte for byte
        len(event.headers),
    ]
    for pair in event.headers.items():
        args.extend(pair)
    for pair in event.query.items():
        args.extend(pair)
    return args


@dataclass(slots=True)
class PreparedState:
    """A fresh sandboxed Lua state with the host modules installed, not yet bound to a job."""

    lua: Any
    bridge: Bridge
    runner: Any


def prepare_state() -> PreparedState:
    """A new state for the next job (see the module docstring); never reused after a job."""
    lua = sandbox.new_runtime(0)
    bridge = install_modules(lua)
    return PreparedState(lua=lua, bridge=bridge, runner=sandbox.seal(lua))


def _run_lua(job: Job, host: HostContext, prepared: PreparedState) -> JobResponse:
    """Everything that touches the Lua state; raises _ExecutionError with the raw text."""
    prepared.lua.set_max_memory(max(0, job.limits.max_memory_bytes))
    prepared.bridge.host = host
    runner = prepared.runner
    outcome = runner(*_runner_args(job))
    if not isinstance(outcome, tuple):
        outcome = (outcome,)
    kind = outcome[0]
    if kind == "ok":
        return _response(outcome)
    if kind == "load":
        raise _ExecutionError(LOAD_PREFIX + _trim_traceback(str(outcome[1])))
    if kind == "handler":
        raise _ExecutionError(HANDLER_PREFIX + _trim_traceback(str(outcome[1])))
    if kind == "nohandler":
        raise _ExecutionError(NO_HANDLER)
    raise _ExecutionError(NOT_A_TABLE)


def run_job(
    job: Job,
    state: Conn,
    outbound: OutboundClient | None = None,
    prepared: PreparedState | None = None,
) -> JobResult:
    """Run `job` in a fresh Lua state and answer its result (never raises for Lua failures).

    `state` is the worker's connection to the state file (KV, env) and `outbound` its HTTP
    client (a throwaway one when None); `prepared` is a state from `prepare_state` that no
    job has used (a new one is made when None). Python's own MemoryError is left to the
    caller: the worker process decides whether it can answer.
    """
    timeout = job.timeout_s if job.timeout_s > 0 else DEFAULT_TIMEOUT_S
    host = HostContext(
        function_id=job.function_id,
        execution_id=job.execution_id,
        function_name=job.function_name,
        version=str(job.version_number) if job.version_number > 0 else "",
        base_url=job.base_url,
        env=job.env,
        state=state,
        deadline=time.monotonic() + timeout,
        limits=job.limits,
        outbound=outbound or OutboundClient(),
    )
    response: JobResponse | None = None
    raw_error: str | None = None
    try:
        if prepared is None:
            prepared = prepare_state()
        response = _run_lua(job, host, prepared)
    except _ExecutionError as exc:
        raw_error = str(exc)
    except luajit21.LuaMemoryError:
        # Raised when even the runner cannot allocate; inside Lua the same condition comes
        # back as the error value "not enough memory".
        raw_error = HANDLER_PREFIX + OUT_OF_MEMORY
    except luajit21.LuaError as exc:
        raw_error = HANDLER_PREFIX + (str(exc) or "unknown Lua error")
    finally:
        # The state is done with: without the bridge's references back into it, it is
        # freed by refcounting as soon as the caller drops `prepared` (no gc pass needed).
        if prepared is not None:
            prepared.bridge.release()

    logs = _clean_logs(host.logs)
    error: str | None = None
    if raw_error is not None:
        raw_error = _clean(raw_error)
        error = enhance(raw_error, job.code)
        # DECISIONS 12: the error goes into the execution's logs too, masked like any line.
        logs.append(
            JobLog(level="error", message=mask_log_message(raw_error), created_at=time.time())
        )
    return JobResult(
        execution_id=job.execution_id,
        response=response,
        error=error,
        logs=logs,
        ai_requests=host.ai_requests,
        email_requests=host.email_requests,
        event_json=masked_event(job.event),
    )


def _clean_logs(logs: list[JobLog]) -> list[JobLog]:
    """Logs with messages safe for the wire (a log of binary data must not break the reply)."""
    out = logs
    for i, entry in enumerate(logs):
        cleaned = _clean(entry.message)
        if cleaned is not entry.message:
            if out is logs:
                out = list(logs)
            out[i] = JobLog(level=entry.level, message=cleaned, created_at=entry.created_at)
    return out
