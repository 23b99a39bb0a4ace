"""Test data builders shared across the suite (records, jobs, analytics rows)."""

from __future__ import annotations

import random
from typing import Any

import duckdb
import pyarrow as pa

from lunard.ids import new_id
from lunard.messages import (
    AIRequestRow,
    EmailRequestRow,
    ExecutionRecord,
    HttpEvent,
    Job,
    JobLimits,
    JobLog,
    RecordBatch,
    Trigger,
)

T0 = 1_700_000_000


def make_execution(
    *,
    function_id: str = "fn1",
    version_id: str | None = None,
    created_at: int = T0,
    status: str = "success",
    error_message: str | None = None,
    response_json: str | None = None,
    trigger: Trigger = "http",
    duration_ms: int = 12,
    execution_id: str | None = None,
) -> ExecutionRecord:
    """An ExecutionRecord with sensible defaults (a time-ordered id like the pool's)."""
    return ExecutionRecord(
        id=execution_id or new_id(created_at),
        function_id=function_id,
        function_version_id=version_id or f"ver_{function_id}_v1",
        status=status,  # type: ignore[arg-type]
        duration_ms=duration_ms,
        error_message=error_message,
        event_json='{"method":"GET","path":"/fn/x"}',
        response_json=response_json,
        trigger=trigger,
        created_at=created_at,
    )


def make_log(message: str, *, level: str = "info", created_at: float = T0 + 0.5) -> JobLog:
    return JobLog(level=level, message=message, created_at=created_at)  # type: ignore[arg-type]


def make_ai(
    *, created_at: int = T0, response_json: str | None = '{"ok":true}', **over: Any
) -> AIRequestRow:
    fields: dict[str, Any] = {
        "id": new_id(created_at),
        "provider": "openai",
        "model": "gpt-4o-mini",
        "endpoint": "https://api.openai.com/v1/chat/completions",
        "request_json": '{"messages":[]}',
        "response_json": response_json,
        "status": "success",
        "error_message": None,
        "input_tokens": 10,
        "output_tokens": 5,
        "duration_ms": 300,
        "created_at": created_at,
    }
    fields.update(over)
    return AIRequestRow(**fields)


def make_email(*, created_at: int = T0, **over: Any) -> EmailRequestRow:
    fields: dict[str, Any] = {
        "id": new_id(created_at),
        "from_address": "app@example.com",
        "to_addresses": ['"Doe, Jane" <jane@example.com>', "bob@example.com"],
        "subject": "Hello",
        "has_text": True,
        "has_html": False,
        "request_json": '{"subject":"Hello"}',
        "response_json": '{"id":"re_1"}',
        "status": "success",
        "error_message": None,
        "email_id": "re_1",
        "duration_ms": 120,
        "created_at": created_at,
    }
    fields.update(over)
    return EmailRequestRow(**fields)


def make_batch(
    execution: ExecutionRecord | None = None,
    *,
    logs: int | list[JobLog] = 0,
    ai: int | list[AIRequestRow] = 0,
    email: int | list[EmailRequestRow] = 0,
) -> RecordBatch:
    """A RecordBatch; integer counts make that many default rows."""
    execution = execution or make_execution()
    at = execution.created_at
    return RecordBatch(
        execution=execution,
        logs=logs
        if isinstance(logs, list)
        else [make_log(f"line {i}", created_at=at + i / 10) for i in range(logs)],
        ai_requests=ai if isinstance(ai, list) else [make_ai(created_at=at) for _ in range(ai)],
        email_requests=email
        if isinstance(email, list)
        else [make_email(created_at=at) for _ in range(email)],
    )


LIMITS = JobLimits(
    max_memory_bytes=32 << 20,
    max_log_entries=1000,
    max_log_bytes=1 << 20,
    http_max_response_bytes=1 << 20,
)


def make_job(code: str, **overrides: Any) -> Job:
    """A Job with test defaults; `overrides` replace fields (event fields via `event=`)."""
    fields: dict[str, Any] = {
        "execution_id": "exec-123",
        "function_id": "test-function",
        "function_name": "MyFunction",
        "version_id": "ver_test-function_v3",
        "version_number": 3,
        "code": code,
        "env": {},
        "event": HttpEvent(
            method="GET",
            path="/fn/test-function/test",
            relative_path="/test",
            headers={},
            query={},
            body=b"",
        ),
        "started_at": 1_700_000_000,
        "base_url": "http://localhost:8080",
        "timeout_s": 5.0,
        "limits": LIMITS,
    }
    fields.update(overrides)
    return Job(**fields)


# Minute-aligned (not hour-aligned) "now" so bucket edges are easy to reason about.
NOW = 1_699_999_980
assert NOW % 60 == 0


def insert_executions(conn: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> None:
    """Insert executions through Arrow; each row needs id, function_id and created_at
    (Unix seconds); status, duration_ms, error_message and trigger have defaults.
    """
    full = [
        {
            "status": "success",
            "duration_ms": 10,
            "error_message": None,
            "trigger": "http",
            **row,
        }
        for row in rows
    ]
    table = pa.table(
        {
            "id": [r["id"] for r in full],
            "function_id": [r["function_id"] for r in full],
            "function_version_id": [f"ver_{r['function_id']}_v1" for r in full],
            "status": [r["status"] for r in full],
            "duration_ms": pa.array([r["duration_ms"] for r in full], pa.int32()),
            "error_message": pa.array([r["error_message"] for r in full], pa.string()),
            "event_json": ["{}"] * len(full),
            "trigger": [r["trigger"] for r in full],
            "created_at": pa.array([r["created_at"] for r in full], pa.timestamp("s")),
        }
    )
    # A statement first: DuckDB 2.0 refuses register() while an earlier result is unfinished
    # (records.migrate leaves one when the file was already migrated).
    conn.execute("BEGIN TRANSACTION")
    conn.register("_generated", table)
    try:
        conn.execute(
            "INSERT INTO executions (id, function_id, function_version_id, status, duration_ms, "
            'error_message, event_json, "trigger", created_at) SELECT * FROM _generated'
        )
        conn.execute("COMMIT")
    finally:
        conn.unregister("_generated")


def busy_rows(function_id: str = "busy", now: int = NOW) -> list[dict[str, Any]]:
    """10,000 executions in the last hour, durations 1..10,000 ms in shuffled order; every
    100th fails (three messages), every 10th is cron.
    """
    durations = list(range(1, 10_001))
    random.Random(6).shuffle(durations)
    rows = []
    for i, duration in enumerate(durations):
        row: dict[str, Any] = {
            "id": f"{function_id}-{i:05d}",
            "function_id": function_id,
            "created_at": now - (i % 3600),
            "duration_ms": duration,
            "trigger": "cron" if i % 10 == 0 else "http",
        }
        if i % 100 == 0:
            row["status"] = "error"
            row["error_message"] = ("timeout", "boom", "nil value")[(i // 100) % 3]
        rows.append(row)
    return rows


def counts(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows in each records table."""
    result = {}
    for table in ("executions", "logs", "ai_requests", "email_requests"):
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        result[table] = int(row[0]) if row else 0
    return result
