"""The sandbox: what user code can and cannot reach (lua-runtime §4.2, DECISIONS 2–3).

Each check runs real user code through `run_job`, so it sees exactly what a deployed
function sees (host modules installed, then sealed).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from lunard.worker import sandbox
from lunard.worker.runtime import run_job
from tests.factories import make_job


def evaluate(state: sqlite3.Connection, expression: str) -> str:
    """The body a handler returns for `tostring(<expression>)`."""
    code = f"function handler() return {{body = tostring({expression})}} end"
    result = run_job(make_job(code), state)
    assert result.error is None, result.error
    assert result.response is not None
    return result.response.body.decode()


@pytest.mark.parametrize(
    "name",
    [
        "io",
        "require",
        "package",
        "module",
        "debug",
        "dofile",
        "loadfile",
        "ffi",
        "jit",
        "python",
        "newproxy",
        "string.dump",
        "os.execute",
        "os.getenv",
        "os.exit",
        "os.remove",
        "os.rename",
        "os.tmpname",
        "os.setlocale",
    ],
)
def test_removed_names_are_absent(state: sqlite3.Connection, name: str) -> None:
    assert evaluate(state, name) == "nil"


def test_string_dump_is_not_reachable_through_the_string_metatable(
    state: sqlite3.Connection,
) -> None:
    assert evaluate(state, '("x").dump') == "nil"
    assert evaluate(state, 'getmetatable("").__index.dump') == "nil"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("type(os.time())", "number"),
        ("type(os.clock())", "number"),
        ('os.date("!%Y", 0)', "1970"),
        ("os.difftime(10, 4)", "6"),
        ('string.format("%05.1f", 3.14159)', "003.1"),
        ('table.concat({1, 2, 3}, ",")', "1,2,3"),
        ("math.floor(3.7)", "3"),
        ("math.mod(7, 3)", "1"),
        ("type(coroutine.wrap)", "function"),
        ("type(setfenv) .. type(getfenv)", "functionfunction"),
        ("type(unpack)", "function"),
        ("bit.band(6, 3)", "2"),
        ('select(2, pcall(error, "x"))', "x"),
        ('type(collectgarbage("count"))', "number"),
    ],
)
def test_kept_standard_library(state: sqlite3.Connection, expression: str, expected: str) -> None:
    assert evaluate(state, expression) == expected


def test_collectgarbage_is_limited(state: sqlite3.Connection) -> None:
    assert evaluate(state, 'pcall(collectgarbage, "stop")') == "false"
    assert evaluate(state, 'pcall(collectgarbage, "collect")') == "true"


def test_load_accepts_text(state: sqlite3.Connection) -> None:
    assert evaluate(state, 'load("return 1 + 2")()') == "3"
    assert evaluate(state, 'loadstring("return 40 + 2")()') == "42"


def test_load_refuses_binary_chunks(state: sqlite3.Connection) -> None:
    # string.dump is gone, so forge the binary chunk header by hand: "\27LJ" is LuaJIT's.
    code = r"""function handler()
      local f1, e1 = load("\27LJ\2\0\0")
      local f2, e2 = loadstring("\27LJ\2\0\0")
      local f3, e3 = load("\27LJ\2\0\0", "x", "b")
      return {body = tostring(f1) .. tostring(f2) .. tostring(f3) .. "|" .. e1}
    end"""
    result = run_job(make_job(code), state)
    assert result.error is None, result.error
    assert result.response is not None
    body = result.response.body.decode()
    assert body.startswith("nilnilnil|")
    assert "mode" in body


def test_load_with_a_reader_function_refuses_binary(state: sqlite3.Connection) -> None:
    code = r"""function handler()
      local sent = false
      local f, e = load(function() if sent then return nil end sent = true return "\27LJ\2" end)
      return {body = tostring(f)}
    end"""
    result = run_job(make_job(code), state)
    assert result.response is not None and result.response.body == b"nil"


def test_globals_from_a_previous_call_are_not_visible(state: sqlite3.Connection) -> None:
    first = "leaked = 'secret'; string.leaked = 'also'; function handler() return {} end"
    assert run_job(make_job(first), state).error is None
    assert evaluate(state, "leaked") == "nil"
    assert evaluate(state, "string.leaked") == "nil"


def test_python_objects_expose_no_private_attributes() -> None:
    # Host functions are Python objects; their dunder attributes lead to the interpreter.
    lua = sandbox.new_runtime(16 << 20)
    probe = lua.eval("function(obj) return pcall(function() return obj.__class__ end) end")
    ok, _ = probe(len)
    assert ok is False
    frames = lua.eval("function(obj) return pcall(function() return obj.gi_frame end) end")
    ok, _ = frames(_generator())
    assert ok is False


def _generator() -> Iterator[int]:
    yield 1


def test_lua_strings_round_trip_bytes() -> None:
    lua = sandbox.new_runtime(16 << 20)
    echo = lua.eval("function(s) return s end")
    raw = bytes(range(256))
    assert sandbox.lua_bytes(echo(raw)) == raw
    assert echo("日本語") == "日本語"
