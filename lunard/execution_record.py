"""What a finished call leaves behind: its execution record and saved response."""

from __future__ import annotations

import base64

import msgspec

from lunard.masking import masked_event
from lunard.messages import ExecRequest, ExecutionRecord, JobResponse, JobResult

MAX_SAVED_BODY = 1 << 20  # http-api §4.7
TRUNCATED_SUFFIX = "\n[TRUNCATED - Response exceeded 1MB]"


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


def stored_event(request: ExecRequest, result: JobResult) -> str:
    """The masked event to store: the worker's; made here only when no worker answered (a
    timeout, a crash, an invalid reply)."""
    if result.event_json is not None:
        return result.event_json
    return masked_event(request.job.event)


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
        event_json=stored_event(request, result),
        response_json=saved,
        trigger=request.trigger,
        created_at=job.started_at,
    )
