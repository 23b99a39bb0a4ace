"""The pool actor with real worker processes, real sockets and a real state file."""

from __future__ import annotations

import base64
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pynng
import pytest
import trio

from lunard.errors import InternalError, Overloaded
from lunard.masking import masked_event
from lunard.messages import (
    WIRE_ENCODER,
    HttpEvent,
    Job,
    RecordWrite,
    job_decoder,
    result_decoder,
)
from lunard.state.db import StateStore
from lunard.worker import main as worker_main
from tests.pool_support import (
    FOREVER,
    HELLO,
    assert_hello,
    execute,
    job,
    start_pool,
    submit,
)


async def test_hello_round_trip_and_record(nursery: trio.Nursery, tmp_path: Path) -> None:
    running = await start_pool(nursery, tmp_path)
    the_job = job(HELLO)
    outcome = await execute(running.pool, the_job, save_response=True)
    assert outcome.result.error is None
    assert outcome.result.execution_id == the_job.execution_id
    assert outcome.result.response is not None
    assert outcome.result.response.status_code == 200
    assert outcome.result.response.body == b"hello"
    assert outcome.duration_ms >= 0

    batch = await running.records.receive()
    record = batch.execution
    assert record.id == the_job.execution_id
    assert record.function_id == the_job.function_id
    assert record.function_version_id == the_job.version_id
    assert record.status == "success"
    assert record.error_message is None
    assert record.trigger == "http"
    assert record.event_json == masked_event(the_job.event)
    assert record.duration_ms == outcome.duration_ms
    assert record.created_at == the_job.started_at
    assert record.response_json is not None
    assert json.loads(record.response_json) == {
        "statusCode": 200,
        "headers": {},
        "body": "hello",
        "isBase64Encoded": False,
    }


async def test_a_call_is_answered_once_its_record_is_written_not_before(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    journal, writes = trio.open_memory_channel[RecordWrite](10)
    running = await start_pool(nursery, tmp_path, journal=journal)
    first, second = job(HELLO), job(HELLO)
    answers = [submit(running.pool, first), submit(running.pool, second)]
    # One worker: the dispatcher ran the second call while the first's record was still
    # unwritten (it does not wait for the journal).
    with trio.fail_after(10):
        got = [await writes.receive(), await writes.receive()]
    assert [w.batch.execution.id for w in got] == [first.execution_id, second.execution_id]
    await trio.sleep(0.05)
    for answer in answers:
        with pytest.raises(trio.WouldBlock):
            answer.receive_nowait()  # nothing is answered before its record is written
    got[1].written.set()
    assert (await answers[1].receive()).result.response is not None
    with pytest.raises(trio.WouldBlock):
        answers[0].receive_nowait()
    got[0].written.set()
    assert (await answers[0].receive()).result.execution_id == first.execution_id


async def test_a_call_is_still_answered_when_the_journal_is_gone(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    journal, writes = trio.open_memory_channel[RecordWrite](10)
    running = await start_pool(nursery, tmp_path, journal=journal)
    writes.close()
    with trio.fail_after(10):
        outcome = await execute(running.pool, job(HELLO))
    assert outcome.result.response is not None and outcome.result.response.body == b"hello"


async def test_ready_means_every_worker_is_up(nursery: trio.Nursery, tmp_path: Path) -> None:
    running = await start_pool(nursery, tmp_path, workers=2)
    pids = running.pool.worker_pids()
    assert len(pids) == 2
    for pid in pids:
        os.kill(pid, 0)  # raises if the process does not exist
    assert running.pool.busy_workers() == 0
    assert running.pool.queue_depth() == 0


async def test_requests_are_never_resent(nursery: trio.Nursery, tmp_path: Path) -> None:
    # DECISIONS 5: the Req0 socket's resend timer is disabled.
    running = await start_pool(nursery, tmp_path)
    worker = running.pool._slots[0]
    assert worker is not None and worker.socket is not None
    assert worker.socket.resend_time == -1


async def test_error_status_is_recorded_as_error(nursery: trio.Nursery, tmp_path: Path) -> None:
    running = await start_pool(nursery, tmp_path)
    outcome = await execute(running.pool, job("function handler() return {statusCode = 500} end"))
    assert outcome.result.error is None
    batch = await running.records.receive()
    assert batch.execution.status == "error"
    assert batch.execution.error_message is None
    assert batch.execution.response_json is None  # save_response was off

    await execute(running.pool, job("function handler() return {statusCode = 399} end"))
    assert (await running.records.receive()).execution.status == "success"


async def test_lua_error_is_recorded_with_log(nursery: trio.Nursery, tmp_path: Path) -> None:
    running = await start_pool(nursery, tmp_path)
    outcome = await execute(
        running.pool, job('function handler() error("boom") end'), save_response=True
    )
    assert outcome.result.error is not None
    batch = await running.records.receive()
    assert batch.execution.status == "error"
    assert batch.execution.error_message == outcome.result.error
    assert batch.execution.error_message.startswith("Error at line 1: <string>:1: boom")
    assert batch.execution.response_json is None
    assert [entry.level for entry in batch.logs] == ["error"]


async def test_saved_response_is_truncated_past_one_mib(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await start_pool(nursery, tmp_path)
    code = 'function handler() return {body = string.rep("a", 1048576 + 10)} end'
    await execute(running.pool, job(code), save_response=True)
    batch = await running.records.receive()
    assert batch.execution.response_json is not None
    saved = json.loads(batch.execution.response_json)
    assert saved["body"] == "a" * 1048576 + "\n[TRUNCATED - Response exceeded 1MB]"


async def test_saved_base64_response_keeps_the_text(nursery: trio.Nursery, tmp_path: Path) -> None:
    running = await start_pool(nursery, tmp_path)
    encoded = base64.b64encode(b"\x00\xffbinary").decode()
    code = f'function handler() return {{isBase64Encoded = true, body = "{encoded}"}} end'
    outcome = await execute(running.pool, job(code), save_response=True)
    assert outcome.result.response is not None
    assert outcome.result.response.body == b"\x00\xffbinary"
    batch = await running.records.receive()
    assert batch.execution.response_json is not None
    saved = json.loads(batch.execution.response_json)
    assert saved["body"] == encoded
    assert saved["isBase64Encoded"] is True


async def test_infinite_loop_times_out_and_next_call_works(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await start_pool(nursery, tmp_path)
    old_pid = running.pool.worker_pids()[0]
    outcome = await execute(running.pool, job(FOREVER, timeout_s=1.0))
    assert outcome.result.response is None
    assert outcome.result.error is not None
    assert outcome.result.error.startswith(
        "Error: <string>: execution timed out after 1s (context deadline exceeded)"
    )
    batch = await running.records.receive()
    assert batch.execution.status == "error"
    assert batch.execution.error_message == outcome.result.error
    assert batch.logs[-1].level == "error"

    await assert_hello(running)
    assert running.pool.worker_pids() != [old_pid]


SECRET_EVENT = HttpEvent(
    method="POST",
    path="/fn/f/login",
    relative_path="/login",
    headers={"Authorization": "Bearer abc", "Accept": "*/*"},
    query={"token": "t0k", "page": "2"},
    body=b'{"user":"ann","password":"hunter2"}',
)


async def test_the_worker_masks_the_stored_event(nursery: trio.Nursery, tmp_path: Path) -> None:
    running = await start_pool(nursery, tmp_path)
    the_job = job(HELLO, event=SECRET_EVENT)
    await submit(running.pool, the_job).receive()
    stored = (await running.records.receive()).execution.event_json
    assert stored == masked_event(SECRET_EVENT)  # the same bytes the daemon made before
    event = json.loads(stored)
    assert event["headers"] == {"Authorization": "[REDACTED]", "Accept": "*/*"}
    assert event["query"] == {"token": "[REDACTED]", "page": "2"}
    assert json.loads(event["body"]) == {"password": "[REDACTED]", "user": "ann"}
    assert "hunter2" not in stored and "abc" not in stored


async def test_a_call_no_worker_answered_still_stores_its_masked_event(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await start_pool(nursery, tmp_path)
    the_job = job(FOREVER, timeout_s=0.5, event=SECRET_EVENT)
    outcome = await submit(running.pool, the_job).receive()
    assert outcome.result.event_json is None  # the worker was killed, not asked
    stored = (await running.records.receive()).execution.event_json
    assert stored == masked_event(SECRET_EVENT)
    assert "hunter2" not in stored


async def test_memory_bomb_fails_and_next_call_works(nursery: trio.Nursery, tmp_path: Path) -> None:
    running = await start_pool(nursery, tmp_path)
    code = """function handler()
      local t = {}
      for i = 1, 1e9 do t[i] = string.rep("x", 100) .. i end
    end"""
    outcome = await execute(running.pool, job(code))
    assert outcome.result.error is not None
    assert "not enough memory" in outcome.result.error
    assert (await running.records.receive()).execution.status == "error"
    await assert_hello(running)


async def test_worker_killed_mid_call_fails_that_call_only(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await start_pool(nursery, tmp_path)
    doomed = job(FOREVER, timeout_s=60.0)
    answers = submit(running.pool, doomed)
    pid = await running.pool.wait_running(doomed.execution_id)
    assert running.pool.running() == {doomed.execution_id: pid}
    os.kill(pid, signal.SIGKILL)

    outcome = await answers.receive()
    assert outcome.result.response is None
    assert outcome.result.error is not None
    assert "worker process running this execution died" in outcome.result.error
    assert "signal 9" in outcome.result.error
    assert "not retried" in outcome.result.error
    assert (await running.records.receive()).execution.status == "error"

    await assert_hello(running)
    assert pid not in running.pool.worker_pids()


async def test_idle_worker_death_is_repaired(nursery: trio.Nursery, tmp_path: Path) -> None:
    running = await start_pool(nursery, tmp_path)
    pid = running.pool.worker_pids()[0]
    os.kill(pid, signal.SIGKILL)
    await running.pool.wait_replaced(pid)
    assert running.pool.restarts() == 1
    await assert_hello(running)
    assert pid not in running.pool.worker_pids()


async def test_full_queue_is_overloaded(nursery: trio.Nursery, tmp_path: Path) -> None:
    running = await start_pool(nursery, tmp_path, workers=1, queue_size=1)
    busy = job(FOREVER, timeout_s=60.0)
    submit(running.pool, busy)
    await running.pool.wait_running(busy.execution_id)
    assert running.pool.busy_workers() == 1

    submit(running.pool, job(HELLO))  # fills the one queue slot
    assert running.pool.queue_depth() == 1
    with pytest.raises(Overloaded) as caught:
        submit(running.pool, job(HELLO))
    assert caught.value.status == 503
    assert caught.value.retry_after >= 1


async def test_shutdown_stops_every_worker(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        running = await start_pool(nursery, tmp_path, workers=2)
        pids = running.pool.worker_pids()
        busy = job(FOREVER, timeout_s=60.0)
        answers = submit(running.pool, busy)
        await running.pool.wait_running(busy.execution_id)
        nursery.cancel_scope.cancel()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    # The request in flight still got its one answer.
    outcome = answers.receive_nowait()
    assert outcome.result.error is not None
    assert "shutting down" in outcome.result.error
    assert list((tmp_path / "run").iterdir()) == []


async def test_shutdown_answers_calls_still_waiting(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        running = await start_pool(nursery, tmp_path)
        busy = job(FOREVER, timeout_s=60.0)
        submit(running.pool, busy)
        await running.pool.wait_running(busy.execution_id)
        waiting = submit(running.pool, job(HELLO))
        nursery.cancel_scope.cancel()
    # Never started, yet answered exactly once; and the stopped pool takes nothing more.
    outcome = waiting.receive_nowait()
    assert outcome.result.error is not None
    assert "shutting down" in outcome.result.error
    with pytest.raises(InternalError, match="not running"):
        submit(running.pool, job(HELLO))


async def test_two_workers_run_in_parallel(nursery: trio.Nursery, tmp_path: Path) -> None:
    running = await start_pool(nursery, tmp_path, workers=2)
    busy = job(FOREVER, timeout_s=60.0)
    submit(running.pool, busy)
    busy_pid = await running.pool.wait_running(busy.execution_id)
    # The other worker still serves (another function) while one is stuck.
    outcome = await execute(running.pool, job(HELLO, function_id="another"))
    assert outcome.result.response is not None
    assert outcome.result.response.body == b"hello"
    assert running.pool.running() == {busy.execution_id: busy_pid}


# ------------------------------------------------------------------ the worker process itself


async def test_worker_answers_an_invalid_job_and_keeps_serving(tmp_path: Path) -> None:
    store = StateStore.open(tmp_path)
    store.close()
    address = f"ipc://{tmp_path}/w.ipc"
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "lunard.worker", "--address", address, "--state", str(store.path)],
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert await process.stdout.receive_some(64) == b"ready\n"
        with pynng.Req0(resend_time=-1) as socket:
            socket.dial(address, block=True)
            decoder = result_decoder()
            await socket.asend(b"\x93not a job")
            bad = decoder.decode(await socket.arecv())
            assert bad.error is not None and "invalid job" in bad.error
            await socket.asend(WIRE_ENCODER.encode(job(HELLO)))
            good = decoder.decode(await socket.arecv())
            assert good.response is not None and good.response.body == b"hello"
    finally:
        process.kill()
        await process.wait()


def test_memory_error_in_python_is_answered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def out_of_memory(the_job: Job, state: object, outbound: object, prepared: object) -> None:
        raise MemoryError

    monkeypatch.setattr(worker_main, "run_job", out_of_memory)
    the_job = job(HELLO)
    raw = WIRE_ENCODER.encode(the_job)
    with pytest.raises(MemoryError):
        worker_main.handle(raw, job_decoder(), sqlite3.connect(":memory:"))
    reply = result_decoder().decode(worker_main._memory_error_reply(raw))
    assert reply.execution_id == the_job.execution_id
    assert reply.response is None
    assert reply.error is not None and "ran out of memory" in reply.error
    assert reply.logs[0].level == "error"
