"""What the HTTP handlers reach: the config, the state store and the other actors' inboxes.

The app holds one `AppDeps` (no module-level state); handlers get it with `deps()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import trio
from quart import current_app

from lunard.config import Config
from lunard.jobs import PoolInbox
from lunard.messages import ScheduleChanged
from lunard.state import StateStore

if TYPE_CHECKING:
    from lunard.http.device_auth import DeviceAuthStore


class PoolStats(Protocol):
    """What `/metrics` reads from the pool."""

    def queue_depth(self) -> int: ...

    def busy_workers(self) -> int: ...


@dataclass
class Readiness:
    """Which actors have started; `/readyz` answers 200 only when all expected ones have."""

    expected: set[str] = field(default_factory=set)
    started: set[str] = field(default_factory=set)

    @property
    def ready(self) -> bool:
        return self.expected <= self.started


@dataclass
class AppDeps:
    """Everything the HTTP actor's handlers use. Inboxes are None when an actor is absent."""

    config: Config
    state: StateStore
    api_key: str
    readiness: Readiness
    device_auth: DeviceAuthStore
    pool: PoolInbox | None = None
    sink: trio.MemorySendChannel[Any] | None = None
    scheduler: trio.MemorySendChannel[ScheduleChanged] | None = None
    pool_stats: PoolStats | None = None


def deps() -> AppDeps:
    """The AppDeps of the app serving the current request."""
    result: AppDeps = current_app.extensions["lunard"]
    return result
