"""Device authorization requests for the HTTP handlers (http-api §2.6, DECISIONS 9).

A CLI asks for a device code, a signed-in user allows or denies it, and the CLI polls
until it can collect its API token. The requests are rows of the state database
(`lunard.state.devices`, scale-out design §5.4), so a code requested on one node can be
approved on a second and collected on a third; each lives `ttl` seconds, and expired rows
are swept on every `create`.

Only a pending code can be decided, and only once; its token is handed out once. Approval
marks the request approved and creates nothing; the poll that collects creates the API
token row and marks the request collected in one transaction, so no raw token is ever
stored and a failed collection leaves the code collectable (see `lunard.state.devices`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from lunard.state import StateStore, devices
from lunard.state.devices import DeviceRequest, DeviceStatus, Poll

__all__ = ["DEFAULT_TTL", "POLL_INTERVAL", "DeviceAuthStore", "DeviceRequest", "DeviceStatus"]

DEFAULT_TTL = 300
POLL_INTERVAL = 5


class DeviceAuthStore:
    """The device flow's view of the `device_requests` table: the TTL and the clock.

    Holds no requests itself; every method is one transaction on the `state` it is given
    (the handler's `StateStore`), so every node on one database sees the same codes.
    """

    def __init__(self, ttl: int = DEFAULT_TTL, clock: Callable[[], float] = time.time) -> None:
        self.ttl = ttl
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())

    async def create(self, state: StateStore) -> DeviceRequest:
        """Register a new pending request (sweeping expired ones first) and return it."""
        now = self._now()
        return await state.call(lambda c: devices.create(c, now, self.ttl))

    async def get(self, state: StateStore, device_code: str) -> DeviceRequest | None:
        """The live request for `device_code`, or None if unknown or expired."""
        now = self._now()
        return await state.call(lambda c: devices.get(c, device_code, now))

    async def approve(self, state: StateStore, device_code: str) -> bool:
        """Approve a pending request; False if unknown, expired or already decided."""
        now = self._now()
        return await state.call(lambda c: devices.approve(c, device_code, now))

    async def deny(self, state: StateStore, device_code: str) -> bool:
        """Deny a pending request; False if unknown, expired or already decided."""
        now = self._now()
        return await state.call(lambda c: devices.deny(c, device_code, now))

    async def collect(self, state: StateStore, device_code: str) -> Poll:
        """Collect an approved request's token (creating its API token row) once; otherwise
        the request as it is. Raises `StateError` (`TokenNotCreated` when the token row
        could not be written) with nothing changed when it fails."""
        now = self._now()
        return await state.call(lambda c: devices.collect(c, device_code, now))
