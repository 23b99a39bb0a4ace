"""`lunar logs`: a function's executions with their log lines, newest last, optionally followed.

The server has no stream, so following polls the execution list (newest first) and prints
each execution once, when it has finished (a `pending` one waits for a later poll).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lunard.client.api import PAGE_SIZE, Api

LEVELS = ("debug", "info", "warn", "error")


def level_rank(level: Any) -> int:
    """Position of a log level in `LEVELS`; unknown levels count as `info` (http-api §3.4)."""
    return LEVELS.index(level) if level in LEVELS else 1


def _sort_key(ex: dict[str, Any]) -> tuple[int, str]:
    # xids sort by creation time within a second, so (created_at, id) is creation order.
    return int(ex.get("created_at") or 0), str(ex.get("id"))


def full_logs(api: Api, execution_id: str, min_level: str | None) -> dict[str, Any]:
    """The `executions/{id}/logs` answer with every page of `logs`, filtered by level."""
    first = api.execution_logs(execution_id, PAGE_SIZE, 0)
    logs = list(first.get("logs") or [])
    total = (first.get("pagination") or {}).get("total", len(logs))
    while len(logs) < total:
        page = api.execution_logs(execution_id, PAGE_SIZE, len(logs)).get("logs") or []
        if not page:
            break
        logs.extend(page)
    if min_level:
        floor = level_rank(min_level)
        logs = [entry for entry in logs if level_rank(entry.get("level")) >= floor]
    result = {key: value for key, value in first.items() if key != "pagination"}
    result["logs"] = logs
    return result


@dataclass
class Tail:
    """The executions of one function already shown, and what to fetch next."""

    api: Api
    function_id: str
    since: float | None = None
    seen: set[str] = field(default_factory=set)

    def _newest_first(self, limit: int | None) -> Iterator[dict[str, Any]]:
        """Executions newest first, stopping at `since`, `limit` items or known ones."""
        offset, count = 0, 0
        while True:
            body = self.api.list_executions(self.function_id, PAGE_SIZE, offset)
            items = body.get("executions") or []
            for ex in items:
                if self.since is not None and (ex.get("created_at") or 0) < self.since:
                    return
                yield ex
                count += 1
                if limit is not None and count >= limit:
                    return
            offset += len(items)
            total = (body.get("pagination") or {}).get("total", 0)
            if not items or offset >= total or self._all_seen(items):
                return

    def _all_seen(self, items: list[dict[str, Any]]) -> bool:
        return bool(self.seen) and all(str(ex.get("id")) in self.seen for ex in items)

    def fetch(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Finished executions not shown yet, oldest first; marks them as shown."""
        fresh = [
            ex
            for ex in self._newest_first(limit)
            if str(ex.get("id")) not in self.seen and ex.get("status") != "pending"
        ]
        fresh.sort(key=_sort_key)
        self.seen.update(str(ex.get("id")) for ex in fresh)
        return fresh

    def start_following(self, shown: list[dict[str, Any]]) -> None:
        """From now on, stop paging at executions older than the newest one shown.

        Only server timestamps are compared (the client's clock may differ); one second
        of slack because `created_at` is in whole seconds (`seen` tells repeats apart).
        """
        if self.since is None and shown:
            self.since = max(int(ex.get("created_at") or 0) for ex in shown) - 1
