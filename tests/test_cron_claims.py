"""Cron exactly once across nodes (scale-out design §3): three real `Scheduler`s on one real
PostgreSQL, each with its own `StateStore` and node name, driven by one
`trio.testing.MockClock(autojump_threshold=0)` through the schedulers' injected wall clocks
(which may be skewed per node). Each node's pool end is drained and answered by the test,
as in tests/test_scheduler.py (an in-process actor boundary; the real Pool's per-job
deadlines do not work under an autojumping clock).

The schedulers' clock injection exists only in-process (`Scheduler(clock=...)`); a real
daemon has no way to shift its clock, so the one test with real `lunard serve` processes
waits for a real minute boundary.

Also: a single SQLite node claims each run and releases what a killed process left (the
harness of tests/test_scheduler.py), and the housekeeper sweeps claims older than 7 days
on both backends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest
import trio
import trio.testing

from lunard.config import Config
from lunard.housekeeper import Housekeeper
from lunard.messages import ExecOutcome, ExecRequest, JobResponse, JobResult
from lunard.scheduler import LEASE_GRACE_S, Scheduler
from lunard.state import StateStore
from lunard.state.claims import Claim, Slot, claim_slot
from lunard.state.dialect import Conn, Sql
from lunard.state.functions import create_function
from tests.daemon import Daemon, start_daemon
from tests.http.helpers import create
from tests.test_scheduler import Harness, add_function, answer, messages, update
from tests.test_scheduler import claims as one_node_claims

BASE = 1_699_999_200  # a whole hour (UTC)
EVERY_MINUTE = "* * * * *"
TIMEOUT_S = 30  # the nodes' execution timeout: a claim's lease is slot + 30 + grace
CODE = "function handler(ctx, event) return {statusCode = 200} end"

_SCHEDULE = Sql(
    sqlite="UPDATE functions SET cron_schedule = ?, cron_status = 'active' WHERE id = ?",
    postgres="UPDATE functions SET cron_schedule = %s, cron_status = 'active' WHERE id = %s",
)
_CLAIMS = (
    "SELECT scheduled_at, node_id, execution_id, finished_at FROM cron_runs ORDER BY scheduled_at"
)


def add_cron_function(state: StateStore, name: str = "ticker") -> str:
    def insert(conn: Conn) -> str:
        function_id = str(create_function(conn, name, None, CODE)["id"])
        conn.execute(_SCHEDULE.of(conn), (EVERY_MINUTE, function_id))
        return function_id

    return state.call_sync(insert)


def claims(state: StateStore) -> list[tuple[Any, ...]]:
    return state.call_sync(lambda conn: [tuple(row) for row in conn.execute(_CLAIMS)])


@dataclass
class Ran:
    """One run a node's pool was asked for."""

    node: str
    slot: int
    execution_id: str
    at: float  # the shared wall clock when it reached the pool


@dataclass
class Cluster:
    """N schedulers on one database; the test's side of their pools."""

    url: str
    tmp: Path
    skews: list[float]
    hold: float = 0.0  # mock seconds each run takes before the test answers it
    start: float = BASE + 10
    ran: list[Ran] = field(default_factory=list)
    stores: list[StateStore] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.t0 = trio.current_time()

    def wall(self) -> float:
        return self.start + (trio.current_time() - self.t0)

    async def sleep_until_wall(self, wall: float) -> None:
        await trio.sleep_until(self.t0 + (wall - self.start))

    def store(self, index: int) -> StateStore:
        state = StateStore.open(self.tmp / f"node{index}", self.url)
        self.stores.append(state)
        return state

    @asynccontextmanager
    async def node(self, index: int) -> AsyncIterator[Scheduler]:
        """Node `index` running (its scheduler and the test's end of its pool)."""
        skew = self.skews[index]
        config = Config(timezone="UTC", node_id=f"node{index}", execution_timeout=TIMEOUT_S)
        send, receive = trio.open_memory_channel[ExecRequest](16)
        scheduler = Scheduler(
            config=config, state=self.store(index), pool=send, clock=lambda: self.wall() + skew
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._pool, f"node{index}", receive)
            await nursery.start(scheduler.run)
            yield scheduler
            nursery.cancel_scope.cancel()

    async def _pool(self, node: str, receive: trio.MemoryReceiveChannel[ExecRequest]) -> None:
        async with trio.open_nursery() as nursery:
            async for request in receive:
                slot = int(request.job.event.headers["X-Cron-Scheduled-Time"])
                self.ran.append(Ran(node, slot, request.job.execution_id, self.wall()))
                nursery.start_soon(self._answer, request)

    async def _answer(self, request: ExecRequest) -> None:
        await trio.sleep(self.hold)
        result = JobResult(request.job.execution_id, JobResponse(200, {}, b"ok", False), None)
        await request.reply.send(ExecOutcome(result, duration_ms=1))

    def close(self) -> None:
        for state in self.stores:
            state.close()


MakeCluster = Callable[..., Cluster]


@pytest.fixture
def cluster(pg_url: str, tmp_path: Path) -> Iterator[MakeCluster]:
    """`cluster(skews, hold=0.0)`: nodes with those clock skews on one fresh database."""
    made: list[Cluster] = []

    def make(skews: list[float], hold: float = 0.0) -> Cluster:
        made.append(Cluster(pg_url, tmp_path, skews, hold))
        return made[-1]

    yield make
    for each in made:
        each.close()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="lunard.scheduler")
    return caplog


def minutes(first: int, last: int) -> list[int]:
    return [BASE + 60 * k for k in range(first, last + 1)]


async def test_three_nodes_run_each_slot_exactly_once_and_a_leaving_node_is_replaced(
    autojump_clock: trio.testing.MockClock, cluster: MakeCluster, logs: pytest.LogCaptureFixture
) -> None:
    # node1's clock is 2 s fast and node2's 3 s slow: node1 fires first and wins each slot,
    # the others find it claimed. Skew moves firing, never the slot (its key).
    nodes = cluster([0.0, 2.0, -3.0])
    fid = add_cron_function(nodes.store(9))
    async with nodes.node(0), nodes.node(2):
        async with nodes.node(1):
            await nodes.sleep_until_wall(BASE + 60 * 4 + 30)
        # node1 has left (its scheduler stopped): node0, now the earliest, takes over.
        await nodes.sleep_until_wall(BASE + 60 * 10 + 30)
        await trio.testing.wait_all_tasks_blocked()

    assert sorted(run.slot for run in nodes.ran) == minutes(1, 10)  # each slot once
    assert [run.node for run in nodes.ran] == ["node1"] * 4 + ["node0"] * 6
    assert [round(run.at - run.slot, 6) for run in nodes.ran] == [-2.0] * 4 + [0.0] * 6
    # The claims say the same: the slot, the winner and its execution id; every run ended.
    rows = claims(nodes.stores[0])
    assert [(row[0], row[1], row[2]) for row in rows] == [
        (run.slot, run.node, run.execution_id) for run in nodes.ran
    ]
    assert all(row[3] is not None for row in rows)
    taken = [r.getMessage() for r in logs.records if "claimed by another node" in r.getMessage()]
    # Per slot, every node that was up and lost: node0 and node2 for 1-4, node2 for 5-10.
    assert len(taken) == 2 * 4 + 6
    assert all(f"function_id={fid}" in line for line in taken)


async def test_a_run_still_going_on_one_node_makes_every_node_skip_the_next_slot(
    autojump_clock: trio.testing.MockClock, cluster: MakeCluster, logs: pytest.LogCaptureFixture
) -> None:
    nodes = cluster([1.0, 0.0, 0.0], hold=70.0)  # each run takes 70 s
    fid = add_cron_function(nodes.store(9))
    async with nodes.node(0), nodes.node(1), nodes.node(2):
        await nodes.sleep_until_wall(BASE + 60 * 5 + 30)
        await trio.testing.wait_all_tasks_blocked()
    # 60 runs until 130, so 120 is skipped by all three nodes; 180 runs, so 240 is skipped...
    assert [(run.node, run.slot) for run in nodes.ran] == [
        ("node0", BASE + 60),
        ("node0", BASE + 180),
        ("node0", BASE + 300),
    ]
    skipped = [r.getMessage() for r in logs.records if "still in progress" in r.getMessage()]
    expected = (
        f"Cron run skipped: previous run still in progress function_id={fid} name=ticker "
        f"schedule='{EVERY_MINUTE}'"
    )
    assert skipped == [expected] * 6  # three nodes, slots 120 and 240
    assert [(row[0], row[1]) for row in claims(nodes.stores[0])] == [
        (run.slot, run.node) for run in nodes.ran
    ]


async def test_a_claim_left_by_a_dead_node_blocks_the_next_slots_until_its_lease_ends(
    autojump_clock: trio.testing.MockClock, cluster: MakeCluster
) -> None:
    nodes = cluster([0.0, 0.5, 0.7])
    state = nodes.store(9)
    fid = add_cron_function(state)
    # A node claimed slot 60 and died before it finished (no kill -9 in-process: its
    # claim is what it leaves behind). Its run is lost, and its lease ends at 60+30+grace.
    lease = BASE + 60 + TIMEOUT_S + LEASE_GRACE_S
    dead = Slot(fid, BASE + 60, "dead", "exec-dead", lease)
    assert state.call_sync(lambda conn: claim_slot(conn, dead, BASE + 60)) is Claim.WON
    async with nodes.node(0), nodes.node(1), nodes.node(2):
        await nodes.sleep_until_wall(BASE + 60 * 5 + 30)
        await trio.testing.wait_all_tasks_blocked()
    first_free = min(slot for slot in minutes(1, 5) if slot >= lease)
    assert [run.slot for run in nodes.ran] == [s for s in minutes(1, 5) if s >= first_free]
    assert {run.node for run in nodes.ran} == {"node2"}  # the earliest clock wins
    assert [row[1] for row in claims(state)] == ["dead"] + ["node2"] * len(nodes.ran)


# --------------------------------------------------------------------------- one node (SQLite)
# The scheduler's own harness (tests/test_scheduler.py) on the default backend: today's
# behaviour, with the claims it now leaves behind.


async def test_each_run_is_claimed_under_its_slot_with_its_execution_and_marked_finished(
    autojump_clock: trio.testing.MockClock, state_store: StateStore
) -> None:
    fid = add_function(state_store)
    config = Config(timezone="UTC", node_id="node-a", execution_timeout=30)
    h = Harness(state_store, start=BASE + 10, config=config)
    async with h.running():
        first = await h.next_run(BASE + 300)
        lease = BASE + 300 + 30 + LEASE_GRACE_S
        assert one_node_claims(state_store) == [
            (fid, BASE + 300, "node-a", first.job.execution_id, lease, None)
        ]
        await h.sleep_until_wall(BASE + 320)  # the run takes 20 s
        await answer(first)
        await trio.testing.wait_all_tasks_blocked()
        assert one_node_claims(state_store)[0][5] == BASE + 320
        second = await h.next_run(BASE + 600)
        await answer(second)
        await trio.testing.wait_all_tasks_blocked()
    assert [(row[1], row[3], row[5]) for row in one_node_claims(state_store)] == [
        (BASE + 300, first.job.execution_id, BASE + 320),
        (BASE + 600, second.job.execution_id, BASE + 600),
    ]


async def test_claims_a_killed_daemon_left_unfinished_are_released_at_start(
    autojump_clock: trio.testing.MockClock, state_store: StateStore, logs: pytest.LogCaptureFixture
) -> None:
    # The previous process claimed a slot and was killed mid-run: on SQLite (one daemon per
    # data dir) that run is certainly not going, so the next tick is not skipped — today's
    # rule — although the claim's lease has not ended.
    fid = add_function(state_store)
    stale = Slot(fid, BASE, "old-process", "exec-old", BASE + 10_000)
    assert state_store.call_sync(lambda conn: claim_slot(conn, stale, BASE)) is Claim.WON
    h = Harness(state_store, start=BASE + 10)
    async with h.running():
        await answer(await h.next_run(BASE + 300))
        await trio.testing.wait_all_tasks_blocked()
    assert "Released unfinished cron claims of a previous run count=1" in messages(logs)
    assert [(row[1], row[5]) for row in one_node_claims(state_store)] == [
        (BASE, BASE + 10),
        (BASE + 300, BASE + 300),
    ]


async def test_a_slot_whose_claim_fails_is_skipped_and_logged(
    autojump_clock: trio.testing.MockClock, state_store: StateStore, logs: pytest.LogCaptureFixture
) -> None:
    fid = add_function(state_store)
    update(state_store, "ALTER TABLE cron_runs RENAME TO cron_runs_gone")
    h = Harness(state_store, start=BASE + 10)
    async with h.running():
        await h.sleep_until_wall(BASE + 310)
        h.assert_nothing_sent()  # without a claim nothing runs: never a run twice
        update(state_store, "ALTER TABLE cron_runs_gone RENAME TO cron_runs")
        await answer(await h.next_run(BASE + 600))  # the scheduler went on
    failed = [m for m in messages(logs) if m.startswith("Cron run skipped: cannot claim")]
    assert failed == [f"Cron run skipped: cannot claim the slot function_id={fid} "
                      f"scheduled_at={BASE + 300}"]  # fmt: skip


# --------------------------------------------------------------------------- housekeeper


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else ""
    state = StateStore.open(tmp_path, url)
    yield state
    state.close()


async def test_the_housekeepers_pass_sweeps_claims_older_than_seven_days(
    any_store: StateStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lunard.housekeeper")
    now = BASE + 30 * 86_400
    for age in (10 * 86_400, 7 * 86_400 + 60, 7 * 86_400 - 60, 60):
        claim = Slot("fn", now - age, "node0", f"exec-{age}", now - age + 90)
        assert any_store.call_sync(partial(claim_slot, slot=claim, now=now - age)) is Claim.WON
    before = [row[0] for row in claims(any_store)]
    assert len(before) == 4
    sink_send, sink_receive = trio.open_memory_channel[Any](0)  # no functions: no delete
    housekeeper = Housekeeper(state=any_store, sink=sink_send, clock=lambda: now)
    swept = trio.Event()

    class _OnSwept(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage() == "Old cron claims swept count=2":
                swept.set()

    handler = _OnSwept()
    logging.getLogger("lunard.housekeeper").addHandler(handler)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(housekeeper.run)
            with trio.fail_after(30):
                await swept.wait()
            nursery.cancel_scope.cancel()
    finally:
        logging.getLogger("lunard.housekeeper").removeHandler(handler)
    assert [row[0] for row in claims(any_store)] == [now - 7 * 86_400 + 60, now - 60]
    assert await housekeeper.sweep_claims() == 0
    sink_receive.close()


# --------------------------------------------------------------------------- real daemons

TICKER = """
function handler(ctx, event)
  return {statusCode = 200, body = event.headers["X-Cron-Scheduled-Time"]}
end
"""


def pg_claims(url: str, function_id: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        cursor = conn.execute(
            "SELECT scheduled_at, node_id, execution_id, finished_at FROM cron_runs "
            "WHERE function_id = %s ORDER BY scheduled_at",
            (function_id,),
        )
        return [tuple(row) for row in cursor.fetchall()]


def test_three_real_daemons_on_one_postgresql_run_a_minute_slot_once(
    pg_url: str, tmp_path: Path
) -> None:
    # Real time: the first minute boundary after all three nodes are up (at most ~60 s).
    daemons: list[Daemon] = []
    try:
        daemons.append(start_daemon(tmp_path / "a", env=_node_env(pg_url, "node-a")))
        api = daemons[0].client()
        fid = create(api, TICKER)["id"]
        changed = api.put(
            f"/api/functions/{fid}",
            json={"cron_schedule": EVERY_MINUTE, "cron_status": "active"},
        )
        assert changed.status_code == 200, changed.text
        # B and C start after the schedule is set: they load it at start.
        for name in ("b", "c"):
            daemons.append(start_daemon(tmp_path / name, env=_node_env(pg_url, f"node-{name}")))
        slot = (int(time.time()) // 60 + 1) * 60
        deadline = slot + 40.0
        while time.time() < deadline:
            finished = [row for row in pg_claims(pg_url, fid) if row[0] >= slot and row[3]]
            if finished:
                break
            time.sleep(0.25)
        rows = pg_claims(pg_url, fid)
        executions = {
            daemon.url: [e["id"] for e in daemon.client().get(
                f"/api/functions/{fid}/executions").json()["executions"]]
            for daemon in daemons
        }  # fmt: skip
    finally:
        for daemon in daemons:
            daemon.stop()
    assert all("Loaded cron schedules count=1" in d.log() for d in daemons[1:])
    at_slot = [row for row in rows if row[0] == slot]
    assert len(at_slot) == 1, (slot, rows)
    [(_, node, execution_id, finished_at)] = at_slot
    assert node in {"node-a", "node-b", "node-c"} and finished_at is not None
    # Every claimed slot (an earlier one may have come while B and C were starting) ran
    # exactly once, on the node that claimed it; no node ran an unclaimed slot.
    by_node = {f"node-{name}": executions[d.url] for name, d in zip("abc", daemons, strict=True)}
    assert sorted(e for ids in by_node.values() for e in ids) == sorted(row[2] for row in rows)
    assert all(row[2] in by_node[row[1]] for row in rows)
    assert execution_id in by_node[node]


def _node_env(url: str, node_id: str) -> dict[str, str]:
    return {"LUNARD_STATE_URL": url, "LUNARD_NODE_ID": node_id, "LUNARD_TIMEZONE": "UTC"}
