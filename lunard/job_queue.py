"""The pool's inbox: one FIFO queue per function, served round-robin (DECISIONS 17).

`JobQueue` decides who may wait and who runs next; the pool's dispatchers only `get` the
next call and report `done`. No trio channel: admission must refuse one function while it
still takes another's calls, which a single bounded channel cannot do.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import trio

from lunard.errors import Overloaded, Throttled
from lunard.jobs import QUEUE_FULL, SHARE_FULL, THROTTLED
from lunard.messages import ExecRequest

# A function may borrow workers past its share only once this many of its calls in a row
# ended within LEND_FAST_S: a function whose calls run long (sleepers, runaway loops) never
# holds the worker kept for the others, so they always find one free.
LEND_AFTER_FAST = 4
LEND_FAST_S = 0.25
_STREAKS_KEPT = 10_000  # functions whose fast streak is remembered (forgotten past this)


@dataclass(eq=False)
class _Lane:
    """One function in the queue: its waiting calls, oldest first, and the workers it holds."""

    function_id: str
    waiting: deque[ExecRequest] = field(default_factory=deque)
    running: int = 0  # calls taken by a dispatcher and not yet answered
    max_concurrency: int | None = None  # from the newest call: a change applies at once

    def may_start(self) -> bool:
        """Whether one more call stays within the function's own `max_concurrency`."""
        return self.max_concurrency is None or self.running < self.max_concurrency


class JobQueue:
    """The pool's inbox: one FIFO queue per function, served round-robin (DECISIONS 17).

    Admission, in `send_nowait` (called by the HTTP and scheduler tasks; O(1), never
    blocks), in this order:
    - a call whose `max_concurrency` is 0 is refused with `Throttled`;
    - a function may have at most `share = max(1, capacity // 2)` calls waiting; past that
      its calls are refused with `Overloaded` (SHARE_FULL) while other functions' calls are
      still taken, so a flood leaves at least half the queue to everyone else;
    - all functions together may have at most `capacity` calls waiting (QUEUE_FULL).

    Dispatch, in `get` (called by the pool's dispatchers, one per worker): the functions
    with waiting calls form a ring in order of arrival. A dispatcher serves the first
    function in ring order that may start a call, takes its oldest call and moves it to the
    back of the ring; functions it skipped keep their place. A function may start a call
    only within its own `max_concurrency` (always), and then
    - while it holds fewer than `worker_share` workers, or
    - when no function holding fewer than `worker_share` workers is waiting and the
      function has earned it: its last `LEND_AFTER_FAST` calls each ended within
      `LEND_FAST_S`. A function of short calls with nobody else waiting may then use every
      worker (the pool never idles a worker such a call could use), and a lent worker comes
      back within a fraction of a second. A function whose calls run long (sleepers,
      runaway loops, a first call nobody has measured yet) keeps to its share, so the
      others always find a worker. Only a function that was fast and then suddenly hangs
      on several calls at once can hold the lent workers, until its execution timeout;
      `max_concurrency` is the hard cap for such a function.

    "Waiting" means not yet taken by a dispatcher; `done` returns a taken call's worker.
    """

    def __init__(self, *, capacity: int, worker_share: int) -> None:
        if capacity < 1 or worker_share < 1:
            raise ValueError("a job queue needs room for one call and one worker a function")
        self.capacity = capacity
        self.share = max(1, capacity // 2)
        self.worker_share = worker_share
        self._lanes: dict[str, _Lane] = {}  # functions with calls waiting or running
        self._fast_streaks: dict[str, int] = {}  # calls in a row that ended within LEND_FAST_S
        self._ring: deque[_Lane] = deque()  # functions with calls waiting, in serving order
        self._depth = 0
        self._closed = False
        self._idle = trio.lowlevel.ParkingLot()  # dispatchers with nothing they may take

    def depth(self) -> int:
        """Calls waiting, all functions together."""
        return self._depth

    def send_nowait(self, request: ExecRequest) -> None:
        """Queue `request` or refuse it at once (see the class docstring)."""
        if self._closed:
            raise trio.ClosedResourceError("the pool is not running")
        if request.max_concurrency == 0:
            raise Throttled(THROTTLED)
        function_id = request.job.function_id
        lane = self._lanes.get(function_id)
        if lane is not None and len(lane.waiting) >= self.share:
            raise Overloaded(SHARE_FULL)
        if self._depth >= self.capacity:
            raise Overloaded(QUEUE_FULL)
        if lane is None:
            lane = self._lanes[function_id] = _Lane(function_id)
        lane.max_concurrency = request.max_concurrency
        if not lane.waiting:
            self._ring.append(lane)
        lane.waiting.append(request)
        self._depth += 1
        if self._idle:  # unpark() costs more than the test when nobody is parked
            self._idle.unpark()

    async def get(self) -> ExecRequest:
        """The next call to run; raises `trio.EndOfChannel` once closed and empty."""
        while True:
            request = self._take()
            if request is not None:
                return request
            if self._closed and not self._depth:
                raise trio.EndOfChannel
            await self._idle.park()

    def done(self, request: ExecRequest, seconds: float) -> None:
        """`request`, taken with `get`, has been answered after `seconds` on a worker: its
        function holds one worker less."""
        function_id = request.job.function_id
        self._note_duration(function_id, seconds)
        lane = self._lanes[function_id]
        lane.running -= 1
        if not lane.running and not lane.waiting:
            del self._lanes[function_id]
        self._wake_if_waiting()

    def _note_duration(self, function_id: str, seconds: float) -> None:
        streaks = self._fast_streaks
        if seconds >= LEND_FAST_S:
            streaks.pop(function_id, None)
            return
        if function_id not in streaks and len(streaks) >= _STREAKS_KEPT:
            streaks.clear()  # deleted functions must not pile up; streaks are rebuilt fast
        streaks[function_id] = min(streaks.get(function_id, 0) + 1, LEND_AFTER_FAST)

    def close(self) -> None:
        """Refuse new calls; `get` ends once the waiting ones are taken (or drained)."""
        self._closed = True
        self._idle.unpark_all()

    def drain(self) -> list[ExecRequest]:
        """Take every waiting call out of the queue (shutdown: they will never run)."""
        drained = [request for lane in self._ring for request in lane.waiting]
        for lane in self._ring:
            lane.waiting.clear()
        self._ring.clear()
        self._depth = 0
        self._lanes = {fid: lane for fid, lane in self._lanes.items() if lane.running}
        return drained

    def _take(self) -> ExecRequest | None:
        index = self._next_index()
        if index is None:
            return None
        lane = self._ring[index]
        del self._ring[index]
        request = lane.waiting.popleft()
        lane.running += 1
        self._depth -= 1
        if lane.waiting:
            self._ring.append(lane)
        # What is left may now be allowed (a lent worker), and another dispatcher may be idle.
        self._wake_if_waiting()
        return request

    def _next_index(self) -> int | None:
        """Ring position of the function to serve next, or None when nobody may start.

        At most `workers + 1` lanes are looked at: a lane is skipped only when it holds a
        worker already (its own cap or its share reached).
        """
        lend_to: int | None = None
        for index, lane in enumerate(self._ring):
            if not lane.may_start():
                continue
            if lane.running < self.worker_share:
                return index
            if lend_to is None and self._fast_streaks.get(lane.function_id) == LEND_AFTER_FAST:
                lend_to = index
        return lend_to

    def _wake_if_waiting(self) -> None:
        if self._depth and self._idle:
            self._idle.unpark()


def auto_worker_share(workers: int) -> int:
    """`function_max_workers = 0`: all workers but one, so others always find one free."""
    return max(1, workers - 1)
