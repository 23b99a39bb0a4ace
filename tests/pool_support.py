"""A real pool for tests: real worker processes, a state file, the journal stood in for."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from lunard.ids import new_id
from lunard.jobs import enqueue
from lunard.messages import ExecOutcome, ExecRequest, Job, RecordBatch, RecordWrite
from lunard.pool import Pool
from lunard.state.db import StateStore
from tests.factories import make_job

HELLO = 'function handler(ctx, event) return {statusCode = 200, body = "hello"} end'
FOREVER = "function handler() while true do end end"


@dataclass
class Running:
    pool: Pool
    records: trio.MemoryReceiveChannel[RecordBatch]


async def start_pool(
    nursery: trio.Nursery,
    tmp_path: Path,
    *,
    workers: int = 1,
    queue_size: int = 8,
    function_max_workers: int = 0,
    journal: trio.MemorySendChannel[RecordWrite] | None = None,
) -> Running:
    """A started pool whose records go to `journal`, or (None) to a stand-in journal that
    passes each batch to `Running.records` and marks it written at once."""
    store = StateStore.open(tmp_path)
    store.close()
    sink, records = trio.open_memory_channel[RecordBatch](100)
    writes = journal
    if writes is None:
        writes, written = trio.open_memory_channel[RecordWrite](100)
        nursery.start_soon(acknowledge_writes, written, sink)
    pool = Pool(
        workers=workers,
        queue_size=queue_size,
        runtime_dir=tmp_path / "run",
        state_path=store.path,
        worker_address_space_mb=1024,
        records=writes,
        function_max_workers=function_max_workers,
    )
    await nursery.start(pool.run)
    return Running(pool, records)


async def acknowledge_writes(
    writes: trio.MemoryReceiveChannel[RecordWrite], sink: trio.MemorySendChannel[RecordBatch]
) -> None:
    """Stand in for the journal: pass each batch on and mark it written at once."""
    async for write in writes:
        await sink.send(write.batch)
        write.written.set()


def job(code: str, **overrides: Any) -> Job:
    return make_job(code, execution_id=new_id(), **overrides)


def submit(
    pool: Pool,
    the_job: Job,
    *,
    save_response: bool = False,
    max_concurrency: int | None = None,
) -> trio.MemoryReceiveChannel[ExecOutcome]:
    reply, answers = trio.open_memory_channel[ExecOutcome](1)
    enqueue(
        pool.inbox,
        ExecRequest(
            job=the_job,
            trigger="http",
            save_response=save_response,
            reply=reply,
            max_concurrency=max_concurrency,
        ),
    )
    return answers


async def execute(pool: Pool, the_job: Job, *, save_response: bool = False) -> ExecOutcome:
    return await submit(pool, the_job, save_response=save_response).receive()


async def assert_hello(running: Running) -> None:
    outcome = await execute(running.pool, job(HELLO))
    assert outcome.result.error is None, outcome.result.error
    assert outcome.result.response is not None
    assert outcome.result.response.body == b"hello"
    batch = await running.records.receive()
    assert batch.execution.status == "success"
