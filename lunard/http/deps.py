"""What the HTTP handlers reach: the config, the state store and the other actors' inboxes.

The app holds one `AppDeps` (no module-level state); handlers get it with `deps()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import trio
from quart import current_app

from lunard.config import Config
from lunard.jobs import PoolInbox
from lunard.messages import ScheduleChanged
from lunard.state import StateStore

if TYPE_CHECKING:
    from lunard.http.device_auth import DeviceAuthStore
    from lunard.records.sink import SinkMessage


class PoolStats(Protocol):
    """What `/metrics` reads from the pool."""

    def queue_depth(self) -> int: ...

    def busy_workers(self) -> int: ...


@dataclass
class Readiness:
    """Whether this node should get traffic: `/readyz` answers 200 only when every expected
    actor has started, no component reports a problem, and no drain has begun.

    Actors add themselves to `expected`/`started` (the supervisor does it for them); a
    component that cannot do its work (the pool when workers fail to boot) calls `problem`,
    and `resolved` once it can again; the supervisor sets `draining` at the first moment of a
    graceful stop, and it is never cleared."""

    expected: set[str] = field(default_factory=set)
    started: set[str] = field(default_factory=set)
    problems: dict[str, str] = field(default_factory=dict)
    draining: bool = False

    def problem(self, component: str, reason: str) -> None:
        """Mark this node not ready because `component` cannot work, for `reason`."""
        self.problems[component] = reason

    def resolved(self, component: str) -> None:
        """`component` works again."""
        self.problems.pop(component, None)

    @property
    def ready(self) -> bool:
        return self.expected <= self.started and not self.problems and not self.draining


@dataclass
class AppDeps:
    """Everything the HTTP actor's handlers use. Inboxes are None when an actor is absent."""

    config: Config
    state: StateStore
    api_key: str
    readiness: Readiness
    device_auth: DeviceAuthStore
    pool: PoolInbox | None = None
    sink: trio.MemorySendChannel[SinkMessage] | None = None
    scheduler: trio.MemorySendChannel[ScheduleChanged] | None = None
    pool_stats: PoolStats | None = None


def deps() -> AppDeps:
    """The AppDeps of the app serving the current request."""
    result: AppDeps = current_app.extensions["lunard"]
    return result
