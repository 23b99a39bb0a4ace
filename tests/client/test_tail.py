"""`lunard.client.logs.Tail` on a scripted execution list: paging, `since`, pending runs,
each execution shown once (the follow loop's bookkeeping, without a server)."""

from __future__ import annotations

from typing import Any

from lunard.client.logs import Tail, full_logs, level_rank


class FakeApi:
    """Answers `list_executions` (newest first, paginated) and `execution_logs`."""

    def __init__(self) -> None:
        self.executions: list[dict[str, Any]] = []
        self.logs: dict[str, list[dict[str, Any]]] = {}
        self.pages = 0

    def add(self, eid: str, created_at: int, status: str = "success") -> dict[str, Any]:
        ex = {"id": eid, "created_at": created_at, "status": status}
        self.executions.insert(0, ex)
        return ex

    def list_executions(self, function_id: str, limit: int, offset: int) -> dict[str, Any]:
        self.pages += 1
        items = self.executions[offset : offset + limit]
        return {"executions": items, "pagination": {"total": len(self.executions)}}

    def execution_logs(self, execution_id: str, limit: int, offset: int) -> dict[str, Any]:
        logs = self.logs.get(execution_id, [])
        return {
            "id": execution_id,
            "logs": logs[offset : offset + limit],
            "pagination": {"total": len(logs), "limit": limit, "offset": offset},
        }


def tail(api: FakeApi, since: float | None = None) -> Tail:
    return Tail(api, "fn", since=since)  # type: ignore[arg-type]


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [str(ex["id"]) for ex in items]


def test_fetch_returns_the_newest_n_oldest_first() -> None:
    api = FakeApi()
    for n in range(5):
        api.add(f"e{n}", 100 + n)
    assert ids(tail(api).fetch(limit=3)) == ["e2", "e3", "e4"]


def test_fetch_pages_through_long_lists_and_stops_at_since() -> None:
    api = FakeApi()
    for n in range(250):
        api.add(f"e{n:03}", 1000 + n)
    got = tail(api, since=1000 + 20).fetch()
    assert ids(got) == [f"e{n:03}" for n in range(20, 250)]
    assert api.pages == 3  # 100 per page


def test_following_shows_each_new_execution_once() -> None:
    api = FakeApi()
    api.add("old", 100)
    t = tail(api)
    shown = t.fetch(limit=20)
    t.start_following(shown)
    assert t.fetch() == []
    api.add("new1", 101)
    api.add("new2", 101)
    assert ids(t.fetch()) == ["new1", "new2"]
    assert t.fetch() == []


def test_a_pending_execution_is_shown_when_it_has_finished() -> None:
    api = FakeApi()
    t = tail(api)
    t.start_following(t.fetch(limit=20))
    running = api.add("run", 200, status="pending")
    assert t.fetch() == []
    running["status"] = "success"
    assert ids(t.fetch()) == ["run"]


def test_full_logs_reads_every_page_and_filters_by_level() -> None:
    api = FakeApi()
    levels = ["debug", "info", "warn", "error", "odd"]
    api.logs["e"] = [{"level": levels[n % 5], "message": str(n)} for n in range(230)]
    everything = full_logs(api, "e", None)  # type: ignore[arg-type]
    assert len(everything["logs"]) == 230 and "pagination" not in everything
    warnings = full_logs(api, "e", "warn")  # type: ignore[arg-type]
    assert {entry["level"] for entry in warnings["logs"]} == {"warn", "error"}
    assert level_rank("odd") == level_rank("info")  # unknown levels count as info
