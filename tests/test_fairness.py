"""Fair sharing between functions (DECISIONS 17), with a real pool and real workers.

Dispatch order is read from the records: the pool sends an execution's record when the
call ends, so with one free worker the records come in the order the calls were taken.
Calls submitted without an await in between are all queued before any dispatcher looks,
which makes every order below deterministic. `trio.fail_after` only guards against a hang
(an unfair pool would leave a call behind an infinite loop for a minute); no test measures
time.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import trio
import trio.testing

from lunard.errors import Overloaded, Throttled
from lunard.job_queue import LEND_AFTER_FAST, JobQueue
from lunard.jobs import QUEUE_FULL, SHARE_FULL, THROTTLED
from lunard.messages import ExecOutcome, ExecRequest, Job, RecordWrite
from lunard.pool import Pool
from tests.pool_support import FOREVER, HELLO, Running, job, start_pool, submit

SLEEPER = 'function handler() time.sleep(50) return {body = "slept"} end'
HANG_GUARD_S = 30  # an unfair pool would keep a call behind a 60 s loop


def fn_job(function_id: str, code: str = HELLO) -> Job:
    # Infinite loops get a long timeout: only the pool's fairness may get others past them.
    return job(code, function_id=function_id, timeout_s=60.0)


async def records_in_order(running: Running, count: int) -> list[str]:
    """Execution ids of the next `count` records, in the order the calls ended."""
    with trio.fail_after(HANG_GUARD_S):
        return [(await running.records.receive()).execution.id for _ in range(count)]


async def hello(answers: trio.MemoryReceiveChannel[ExecOutcome]) -> bytes:
    with trio.fail_after(HANG_GUARD_S):
        outcome = await answers.receive()
    assert outcome.result.error is None, outcome.result.error
    assert outcome.result.response is not None
    return outcome.result.response.body


async def test_queued_calls_are_dispatched_round_robin_across_functions(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await start_pool(nursery, tmp_path, workers=1, queue_size=16)
    a1, a2, a3, b1, b2, c1 = (fn_job(f) for f in "AAABBC")
    for the_job in (a1, a2, a3, b1, b2, c1):
        submit(running.pool, the_job)
    assert running.pool.queue_depth() == 6

    order = await records_in_order(running, 6)
    # Functions take turns in order of arrival; each function's calls stay first in, first out.
    assert order == [j.execution_id for j in (a1, b1, c1, a2, b2, a3)]
    assert running.pool.queue_depth() == 0


async def test_a_full_share_of_the_queue_refuses_that_function_only(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await start_pool(nursery, tmp_path, workers=1, queue_size=4)
    blocker = fn_job("A", FOREVER)
    submit(running.pool, blocker)
    await running.pool.wait_running(blocker.execution_id)

    submit(running.pool, fn_job("A"))
    submit(running.pool, fn_job("A"))  # A's share: half of 4
    with pytest.raises(Overloaded) as refused:
        submit(running.pool, fn_job("A"))
    assert refused.value.message == SHARE_FULL
    assert (refused.value.status, refused.value.retry_after) == (503, 1)

    submit(running.pool, fn_job("B"))  # B still has room
    submit(running.pool, fn_job("B"))
    assert running.pool.queue_depth() == 4
    with pytest.raises(Overloaded) as full:
        submit(running.pool, fn_job("C"))  # the whole queue is full now
    assert full.value.message == QUEUE_FULL


async def test_a_flood_of_sleepers_and_infinite_loops_leaves_a_worker_to_others(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await start_pool(nursery, tmp_path, workers=2, queue_size=8)
    flood = [fn_job("A", code) for code in (FOREVER, SLEEPER, FOREVER, SLEEPER)]
    for the_job in flood:
        submit(running.pool, the_job)
    with pytest.raises(Overloaded):
        submit(running.pool, fn_job("A", FOREVER))  # A's share of the queue is full
    b_answers = [submit(running.pool, fn_job("B")) for _ in range(3)]  # accepted all the same

    for answers in b_answers:
        assert await hello(answers) == b"hello"
    assert flood[0].execution_id in running.pool.running()  # A's first loop still goes on


async def test_function_max_workers_auto_keeps_one_worker_for_others_who_wait(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await start_pool(nursery, tmp_path, workers=2)  # auto: a function holds 1
    a_loop, a_hello, b1, b2 = fn_job("A", FOREVER), fn_job("A"), fn_job("B"), fn_job("B")
    for the_job in (a_loop, a_hello, b1, b2):
        submit(running.pool, the_job)

    order = await records_in_order(running, 2)
    # Plain round-robin would run A's second call before B's second one (B1, A, B2): A
    # already holds a worker and B waits, so B goes first.
    assert order == [b1.execution_id, b2.execution_id]
    await trio.testing.wait_all_tasks_blocked()
    # Then A is alone, but its only measured call is still running: it keeps to its share.
    assert list(running.pool.running()) == [a_loop.execution_id]
    assert running.pool.queue_depth() == 1


async def test_a_function_alone_with_long_calls_never_takes_every_worker(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await start_pool(nursery, tmp_path, workers=2)
    loops = [fn_job("A", FOREVER) for _ in range(2)]
    for the_job in loops:  # two runaway calls arrive while nobody else is waiting
        submit(running.pool, the_job)
    await running.pool.wait_running(loops[0].execution_id)
    await trio.testing.wait_all_tasks_blocked()
    assert list(running.pool.running()) == [loops[0].execution_id]

    for _ in range(3):  # another function arriving later finds the kept worker free
        assert await hello(submit(running.pool, fn_job("B"))) == b"hello"


async def test_a_function_of_short_calls_alone_borrows_every_worker(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await start_pool(nursery, tmp_path, workers=2)
    for _ in range(LEND_AFTER_FAST):  # calls that end fast earn the right to borrow
        assert await hello(submit(running.pool, fn_job("A"))) == b"hello"
    loops = [fn_job("A", FOREVER) for _ in range(2)]
    for the_job in loops:
        submit(running.pool, the_job)
    for the_job in loops:
        await running.pool.wait_running(the_job.execution_id)
    assert running.pool.running().keys() == {j.execution_id for j in loops}


async def test_an_explicit_function_max_workers_is_respected(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await start_pool(nursery, tmp_path, workers=3, function_max_workers=1)
    a_loop, a_hello = fn_job("A", FOREVER), fn_job("A")
    b_loop, b_hello = fn_job("B", FOREVER), fn_job("B")
    c1, c2 = fn_job("C"), fn_job("C")
    for the_job in (a_loop, a_hello, b_loop, b_hello, c1, c2):
        submit(running.pool, the_job)

    # A and B each hold one worker: the third serves C while C waits (with the auto share
    # of 2, A's second call would come before C's second). It is not lent to A or B: their
    # only calls so far are still running.
    order = await records_in_order(running, 2)
    assert order == [j.execution_id for j in (c1, c2)]
    await trio.testing.wait_all_tasks_blocked()
    assert running.pool.running().keys() == {a_loop.execution_id, b_loop.execution_id}
    assert running.pool.queue_depth() == 2


def test_function_max_workers_must_not_be_negative(tmp_path: Path) -> None:
    writes, _ = trio.open_memory_channel[RecordWrite](1)
    with pytest.raises(ValueError, match="function_max_workers"):
        Pool(
            workers=2,
            queue_size=4,
            runtime_dir=tmp_path,
            state_path=tmp_path / "state.db",
            worker_address_space_mb=1024,
            records=writes,
            function_max_workers=-1,
        )


async def test_max_concurrency_caps_one_function_and_not_the_others(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await start_pool(nursery, tmp_path, workers=2, function_max_workers=2)
    a_loop, a_hello = fn_job("A", FOREVER), fn_job("A")
    submit(running.pool, a_loop, max_concurrency=1)
    a_answers = submit(running.pool, a_hello, max_concurrency=1)
    pid = await running.pool.wait_running(a_loop.execution_id)
    await trio.testing.wait_all_tasks_blocked()
    # A second worker is free, but A may hold only one: its second call keeps waiting.
    assert running.pool.running() == {a_loop.execution_id: pid}
    assert running.pool.queue_depth() == 1

    assert await hello(submit(running.pool, fn_job("B"))) == b"hello"  # B uses the free one
    assert (await running.records.receive()).execution.function_id == "B"

    os.kill(pid, signal.SIGKILL)  # A's loop ends (as a failure); its next call may start
    assert await hello(a_answers) == b"hello"
    order = await records_in_order(running, 2)
    assert order == [a_loop.execution_id, a_hello.execution_id]


async def test_max_concurrency_zero_is_refused_by_the_pool(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    running = await start_pool(nursery, tmp_path)
    with pytest.raises(Throttled) as refused:
        submit(running.pool, fn_job("A"), max_concurrency=0)
    assert (refused.value.status, refused.value.message) == (429, THROTTLED)
    assert running.pool.queue_depth() == 0


# ------------------------------------------------------------------ the queue on its own


def request_for(function_id: str, max_concurrency: int | None = None) -> ExecRequest:
    reply, _ = trio.open_memory_channel[ExecOutcome](1)
    return ExecRequest(fn_job(function_id), "http", False, reply, max_concurrency)


async def test_queue_forgets_functions_with_nothing_waiting_or_running() -> None:
    queue = JobQueue(capacity=8, worker_share=1)
    requests = [request_for(f"fn{n}") for n in range(4)]
    for request in requests:
        queue.send_nowait(request)
    taken = [await queue.get() for _ in requests]
    assert taken == requests
    for request in taken:
        queue.done(request, 0.0)
    assert queue.depth() == 0
    assert queue._lanes == {}  # no per-function state grows with the number of functions


async def test_closed_queue_refuses_and_ends_its_dispatchers() -> None:
    queue = JobQueue(capacity=8, worker_share=1)
    waiting = request_for("A")
    queue.send_nowait(waiting)
    queue.close()
    with pytest.raises(trio.ClosedResourceError):
        queue.send_nowait(request_for("B"))
    assert queue.drain() == [waiting]
    with pytest.raises(trio.EndOfChannel):
        await queue.get()
