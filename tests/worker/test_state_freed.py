"""A finished job's Lua state is freed by refcounting, without a gc pass (issue 13).

The worker no longer runs `gc.collect` after every call: `run_job` breaks the one cycle
between a state and its bridge, so the state goes as soon as the last handle is dropped.
These tests run with the cyclic collector off, so anything left in a cycle would show.
"""

from __future__ import annotations

import gc
import sqlite3
import weakref
from collections.abc import Iterator

import pytest
from lupa import luajit21

from lunard.messages import JobLimits
from lunard.wire import WIRE_ENCODER, job_decoder
from lunard.worker import main
from lunard.worker.runtime import prepare_state, run_job
from tests.factories import make_job

CODES = {
    "ok": 'function handler() return {statusCode = 200, body = "hello"} end',
    "host calls": """
function handler(ctx, event)
  log.info("x")
  kv.set("k", "v")
  local ok, err = pcall(kv.get)
  return {statusCode = 200, body = json.encode({a = kv.get("k"), e = err, t = {1, 2}})}
end
""",
    "json fallback": "function handler() local t = {} t.t = t return {body = json.encode(t)} end",
    "handler error": "function handler() error({}) end",
    "load error": "this is not Lua",
    "no table": "function handler() return 1 end",
    "out of memory": "function handler() local t = {} for i = 1, 1e8 do t[i] = i end end",
    "bad status": "function handler() return {statusCode = 1000} end",
}

LIMITS = JobLimits(
    max_memory_bytes=16 << 20, max_log_entries=100, max_log_bytes=10_000,
    http_max_response_bytes=1 << 20,
)  # fmt: skip


@pytest.fixture
def no_cyclic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def live_runtimes() -> int:
    return sum(1 for obj in gc.get_objects() if type(obj) is luajit21.LuaRuntime)


@pytest.mark.parametrize("kind", list(CODES))
def test_a_finished_state_is_freed_without_a_gc_pass(
    state: sqlite3.Connection, no_cyclic_gc: None, kind: str
) -> None:
    prepared = prepare_state()
    bridge = weakref.ref(prepared.bridge)
    result = run_job(make_job(CODES[kind], limits=LIMITS), state, prepared=prepared)
    assert result.execution_id
    assert bridge() is not None  # the caller's handle still keeps it
    del prepared
    # The bridge lives exactly as long as its state: the state holds its callable.
    assert bridge() is None


def test_states_do_not_pile_up_over_many_calls(
    state: sqlite3.Connection, no_cyclic_gc: None
) -> None:
    before = live_runtimes()
    for _ in range(20):
        for code in CODES.values():
            run_job(make_job(code, limits=LIMITS), state, prepared=prepare_state())
            run_job(make_job(code, limits=LIMITS), state)
    assert live_runtimes() == before


def test_the_worker_loop_sees_its_finished_state_freed(
    state: sqlite3.Connection, no_cyclic_gc: None
) -> None:
    decoder = job_decoder()
    for raw in (WIRE_ENCODER.encode(make_job(code)) for code in CODES.values()):
        prepared = prepare_state()
        reply = main.handle(raw, decoder, state, None, prepared)
        assert reply
        finished = main._watch_freed(prepared)
        del prepared
        assert finished is not None and finished() is None
    # A job that could not be decoded never reached its state: `handle` releases it too.
    prepared = prepare_state()
    main.handle(b"\x00garbage", decoder, state, None, prepared)
    finished = main._watch_freed(prepared)
    del prepared
    assert finished is not None and finished() is None


def test_a_released_state_reaches_no_execution(state: sqlite3.Connection) -> None:
    prepared = prepare_state()
    result = run_job(make_job(CODES["host calls"]), state, prepared=prepared)
    assert result.error is None and result.response is not None
    assert b'"a":"v"' in result.response.body  # the job itself saw its store
    probe = prepared.lua.eval("function() return pcall(kv.get, 'k') end")
    assert probe() == (True, None)  # kept past its job, the state sees nothing
