"""`run_job`: ctx/event tables, response conversion and execution errors (lua-runtime §1–2)."""

from __future__ import annotations

import base64
import sqlite3
from typing import Any

import pytest

from lunard.masking import masked_event
from lunard.messages import HttpEvent, JobLimits, JobResult
from lunard.worker.runtime import prepare_state, run_job
from tests.factories import make_job


def run(state: sqlite3.Connection, code: str, **overrides: Any) -> JobResult:
    return run_job(make_job(code, **overrides), state)


def body_of(state: sqlite3.Connection, code: str, **overrides: Any) -> bytes:
    result = run(state, code, **overrides)
    assert result.error is None, result.error
    assert result.response is not None
    return result.response.body


# ------------------------------------------------------------------ handler contract


def test_statement_1_hello_world(state: sqlite3.Connection) -> None:
    result = run(
        state,
        'function handler(ctx, event) return {statusCode=200, headers={["Content-Type"]='
        '"application/json"}, body="Hello, World!"} end',
    )
    assert result.error is None
    assert result.response is not None
    assert result.response.status_code == 200
    assert result.response.body == b"Hello, World!"
    assert result.response.headers == {"Content-Type": "application/json"}
    assert result.execution_id == "exec-123"


def test_ctx_fields(state: sqlite3.Connection) -> None:
    code = """function handler(ctx)
      return {body = table.concat({ctx.executionId, ctx.functionId, ctx.functionName,
        ctx.version, ctx.requestId, ctx.baseUrl, tostring(ctx.startedAt),
        type(ctx.startedAt), type(ctx.version)}, "|")}
    end"""
    assert body_of(state, code) == (
        b"exec-123|test-function|MyFunction|3|exec-123|http://localhost:8080|1700000000"
        b"|number|string"
    )


def test_statement_16_absent_ctx_fields_are_nil(state: sqlite3.Connection) -> None:
    code = """function handler(ctx)
      return {body = tostring(ctx.baseUrl or "not-set") .. "," .. tostring(ctx.functionName)
        .. "," .. tostring(ctx.version)}
    end"""
    body = body_of(state, code, base_url="", function_name="", version_number=0)
    assert body == b"not-set,nil,nil"


def test_statement_3_event_fields(state: sqlite3.Connection) -> None:
    event = HttpEvent(
        method="POST",
        path="/fn/test-function/api/users",
        relative_path="/api/users",
        headers={"X-Custom-Thing": "v"},
        query={"action": "create"},
        body=b'{"name": "John"}',
    )
    code = """function handler(ctx, event)
      return {body = "Method: " .. event.method .. ", Path: " .. event.relativePath
        .. ", Query: " .. event.query.action .. ", Body: " .. event.body
        .. ", Header: " .. event.headers["X-Custom-Thing"] .. ", Full: " .. event.path}
    end"""
    assert body_of(state, code, event=event) == (
        b'Method: POST, Path: /api/users, Query: create, Body: {"name": "John"}, '
        b"Header: v, Full: /fn/test-function/api/users"
    )


def test_event_body_keeps_arbitrary_bytes(state: sqlite3.Connection) -> None:
    raw = bytes(range(256))
    event = HttpEvent(
        method="POST", path="/fn/x", relative_path="/", headers={}, query={}, body=raw
    )
    code = "function handler(ctx, event) return {body = #event.body .. ':' .. event.body} end"
    assert body_of(state, code, event=event) == b"256:" + raw


def test_empty_headers_and_query_are_tables(state: sqlite3.Connection) -> None:
    code = """function handler(ctx, event)
      return {body = type(event.headers) .. type(event.query) .. tostring(next(event.query))}
    end"""
    assert body_of(state, code) == b"tabletablenil"


# ------------------------------------------------------------------ response conversion


def test_statement_9_empty_table(state: sqlite3.Connection) -> None:
    result = run(state, "function handler() return {} end")
    assert result.response is not None
    assert result.response.status_code == 200
    assert result.response.body == b""
    assert result.response.headers == {}
    assert result.response.is_base64 is False


def test_statement_10_numeric_string_status(state: sqlite3.Connection) -> None:
    result = run(state, 'function handler() return {statusCode = "404"} end')
    assert result.error is None
    assert result.response is not None and result.response.status_code == 404


def test_statement_11_fractional_status_and_number_body(state: sqlite3.Connection) -> None:
    result = run(state, "function handler() return {statusCode = 201.7, body = 42} end")
    assert result.response is not None
    assert result.response.status_code == 201
    assert result.response.body == b"42"


def test_statement_12_non_string_body_is_empty(state: sqlite3.Connection) -> None:
    assert body_of(state, "function handler() return {body = {a=1}} end") == b""


def test_non_numeric_status_is_kept_as_zero(state: sqlite3.Connection) -> None:
    # The HTTP layer sends 0 as 200; the raw value is what gets recorded.
    for value in ("true", '"abc"', "{}"):
        result = run(state, f"function handler() return {{statusCode = {value}}} end")
        assert result.error is None
        assert result.response is not None and result.response.status_code == 0


def test_headers_conversion(state: sqlite3.Connection) -> None:
    code = """function handler()
      return {headers = {["X-A"] = "a", ["X-N"] = 12, ["X-F"] = 1.5, ["X-B"] = true, [7] = "seven"}}
    end"""
    result = run(state, code)
    assert result.response is not None
    assert result.response.headers == {
        "X-A": "a",
        "X-N": "12",
        "X-F": "1.5",
        "X-B": "",
        "7": "seven",
    }


def test_fields_are_read_raw(state: sqlite3.Connection) -> None:
    code = """function handler()
      return setmetatable({}, {__index = function() return 500 end})
    end"""
    result = run(state, code)
    assert result.response is not None and result.response.status_code == 200


def test_base64_body_is_decoded(state: sqlite3.Connection) -> None:
    payload = bytes(range(256))
    encoded = base64.b64encode(payload).decode()
    code = f'function handler() return {{isBase64Encoded = true, body = "{encoded}"}} end'
    result = run(state, code)
    assert result.error is None
    assert result.response is not None
    assert result.response.body == payload
    assert result.response.is_base64 is True


def test_base64_flag_uses_lua_truthiness(state: sqlite3.Connection) -> None:
    result = run(state, 'function handler() return {isBase64Encoded = "false", body = "aGk="} end')
    assert result.response is not None and result.response.body == b"hi"
    result = run(state, 'function handler() return {isBase64Encoded = false, body = "aGk="} end')
    assert result.response is not None and result.response.body == b"aGk="


def test_invalid_base64_body_is_an_execution_error(state: sqlite3.Connection) -> None:
    result = run(state, 'function handler() return {isBase64Encoded = true, body = "%%%"} end')
    assert result.response is None
    assert result.error is not None
    assert "not valid base64" in result.error


@pytest.mark.parametrize("status", [600, 99, -1, 1000])
def test_status_outside_100_599_is_an_execution_error(
    state: sqlite3.Connection, status: int
) -> None:
    result = run(state, f"function handler() return {{statusCode = {status}}} end")
    assert result.response is None
    assert result.error is not None
    assert f"statusCode {status}" in result.error


def test_status_boundaries_are_accepted(state: sqlite3.Connection) -> None:
    for status in (100, 399, 599):
        result = run(state, f"function handler() return {{statusCode = {status}}} end")
        assert result.response is not None and result.response.status_code == status


# ------------------------------------------------------------------ execution errors


def test_statement_4_missing_handler(state: sqlite3.Connection) -> None:
    result = run(state, "local x = 1 + 1")
    assert result.response is None
    assert result.error is not None
    assert "handler function not found in Lua code" in result.error
    assert result.error.startswith("Error: ")


def test_local_handler_is_not_found(state: sqlite3.Connection) -> None:
    result = run(state, "local function handler() return {} end")
    assert result.error is not None and "handler function not found" in result.error


def test_statement_5_syntax_error_is_a_load_error(state: sqlite3.Connection) -> None:
    result = run(state, "function handler(ctx, event)\n\tthis is invalid lua syntax\nend")
    assert result.error is not None
    assert result.error.startswith("Error at line 2: <string>:2:")
    assert "[CODE]" in result.error
    assert result.logs[-1].message.startswith("failed to load Lua code: <string>:2:")


def test_top_level_runtime_error_is_a_load_error(state: sqlite3.Connection) -> None:
    result = run(state, 'error("boom at load")\nfunction handler() return {} end')
    assert result.error is not None
    assert "<string>:1: boom at load" in result.error
    assert result.logs[-1].message.startswith("failed to load Lua code: <string>:1: boom")


def test_statement_7_and_8_non_table_return(state: sqlite3.Connection) -> None:
    for ret in ('return "just a string"', "return nil", "", "return 42", "return true"):
        result = run(state, f"function handler() {ret} end")
        assert result.response is None
        assert result.error is not None
        assert "handler did not return a table" in result.error
        assert "must return a table" in result.error


def test_error_text_from_handler(state: sqlite3.Connection) -> None:
    code = 'function handler()\n  error("custom failure")\nend'
    result = run(state, code)
    assert result.error is not None
    assert result.error.startswith("Error at line 2: <string>:2: custom failure")
    # DECISIONS 12: the error is also in this execution's logs
    assert result.logs[-1].level == "error"
    assert result.logs[-1].message.startswith(
        "failed to execute handler: <string>:2: custom failure"
    )


def test_error_with_a_table_value(state: sqlite3.Connection) -> None:
    result = run(state, "function handler() error({code = 1}) end")
    assert result.error is not None
    assert "table: 0x" in result.error


def test_traceback_lists_only_user_frames(state: sqlite3.Connection) -> None:
    code = "local function inner()\n  error('deep')\nend\nfunction handler()\n  inner()\nend"
    result = run(state, code)
    assert result.error is not None
    assert "stack traceback:\n\t<string>:2:" in result.error
    assert "xpcall" not in result.error
    assert "lunard" not in result.error


def test_memory_cap_is_an_execution_error(state: sqlite3.Connection) -> None:
    code = """function handler()
      local t = {}
      for i = 1, 1e9 do t[i] = string.rep("x", 64) .. i end
    end"""
    result = run(state, code)
    assert result.response is None
    assert result.error is not None
    assert "not enough memory" in result.error


def test_deep_recursion_is_a_stack_overflow(state: sqlite3.Connection) -> None:
    code = "local function f(n) return 1 + f(n + 1) end\nfunction handler() return f(1) end"
    result = run(state, code)
    assert result.error is not None
    assert "stack overflow" in result.error


def test_statement_14_globals_do_not_survive(state: sqlite3.Connection) -> None:
    code = """function handler()
      counter = (counter or 0) + 1
      return {body = tostring(counter)}
    end"""
    assert body_of(state, code) == b"1"
    assert body_of(state, code) == b"1"


def test_handler_returning_after_pcall_of_error(state: sqlite3.Connection) -> None:
    code = """function handler()
      local ok, err = pcall(error, "caught")
      return {body = tostring(ok) .. ":" .. err}
    end"""
    assert body_of(state, code) == b"false:caught"


def test_print_goes_to_the_debug_log(state: sqlite3.Connection) -> None:
    result = run(state, 'function handler() print("hello", 42, nil) return {} end')
    assert result.error is None
    assert [(entry.level, entry.message) for entry in result.logs] == [("debug", "hello\t42\tnil")]


def test_error_log_entry_is_masked(state: sqlite3.Connection) -> None:
    code = 'function handler(ctx, event) error("token=abcdefghijklmnop failed") end'
    result = run_job(make_job(code), state)
    assert result.error is not None and "abcdefghijklmnop" in result.error
    [entry] = [e for e in result.logs if e.level == "error"]
    assert "abcdefghijklmnop" not in entry.message
    assert "[REDACTED]" in entry.message


# ------------------------------------------------------------------ states prepared ahead

HELLO_CODE = 'function handler() return {statusCode = 200, body = "hello"} end'

GLOBAL_LEAK = """
function handler(ctx, event)
  local seen = tostring(leaked)
  leaked = ctx.executionId
  kv.set("k", "v")
  return {statusCode = 200, body = seen}
end
"""


def test_a_prepared_state_serves_one_job_like_a_fresh_one(state: sqlite3.Connection) -> None:
    first = run_job(make_job(GLOBAL_LEAK, execution_id="one"), state, prepared=prepare_state())
    second = run_job(make_job(GLOBAL_LEAK, execution_id="two"), state, prepared=prepare_state())
    fresh = run_job(make_job(GLOBAL_LEAK, execution_id="three"), state)
    for result in (first, second, fresh):
        assert result.error is None, result.error
        assert result.response is not None and result.response.body == b"nil"


def test_a_prepared_state_is_capped_by_the_jobs_memory_limit(state: sqlite3.Connection) -> None:
    bomb = "function handler() local t = {} for i = 1, 1e8 do t[i] = i end return {} end"
    limits = JobLimits(
        max_memory_bytes=8 << 20, max_log_entries=100, max_log_bytes=10_000,
        http_max_response_bytes=1 << 20,
    )  # fmt: skip
    result = run_job(make_job(bomb, limits=limits), state, prepared=prepare_state())
    assert result.error is not None and "not enough memory" in result.error


def test_an_unbound_prepared_state_reaches_no_execution() -> None:
    prepared = prepare_state()
    probe = prepared.lua.eval("function() return pcall(kv.get, 'k') end")
    ok, message = probe()
    assert ok is False and "internal error" in message


def test_the_result_carries_the_masked_event(state: sqlite3.Connection) -> None:
    event = HttpEvent(
        method="GET", path="/fn/f", relative_path="/", headers={"X-Api-Key": "s3cret"},
        query={}, body=b"\xff not utf-8",
    )  # fmt: skip
    result = run_job(make_job(HELLO_CODE, event=event), state)
    assert result.event_json == masked_event(event)
    assert result.event_json is not None and "s3cret" not in result.event_json
