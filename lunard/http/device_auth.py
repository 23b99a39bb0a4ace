"""In-memory device authorization requests (http-api §2.6, DECISIONS 9).

A CLI asks for a device code, a signed-in user allows or denies it, and the CLI polls
until it can collect its API token. Requests live only in memory (lost on restart) for
`ttl` seconds; expired entries are dropped when looked up and swept on every `create`.

Lifecycle of one entry::

    pending --claim--> pending (claimed) --complete--> approved --collect--> approved (collected)
       |                      `--release--> pending (an API token row could not be created)
       `--deny--> denied

Only a pending, unclaimed entry can be decided, and only once (DECISIONS 9). Approval is
two-step so the handler can create the token row between `claim` and `complete`: the claim
is taken synchronously (no await between the check and the mark), so two concurrent
approvals cannot both create a token, and a token row is created only for a code that was
still pending. The raw token is handed out once: `collect` returns it and forgets it;
afterwards the entry reports `collected` and the poll endpoint answers 410 Gone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from lunard.ids import new_id, new_user_code

DEFAULT_TTL = 300
POLL_INTERVAL = 5


class DeviceStatus(StrEnum):
    """Public statuses of a device request (expiry is not a status: it is a 404)."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


@dataclass
class DeviceRequest:
    """One device request. `token` holds the raw API token between approval and collection."""

    device_code: str
    user_code: str
    created_at: float
    expires_at: float
    status: DeviceStatus = DeviceStatus.PENDING
    claimed: bool = False
    token: str | None = None
    collected: bool = False


class DeviceAuthStore:
    """Pending device-flow requests, owned by the HTTP actor (lost on restart).

    Not thread-safe by design: every call comes from the trio event loop, and no method
    awaits, so each transition is atomic with respect to other requests.
    """

    def __init__(self, ttl: int = DEFAULT_TTL, clock: Callable[[], float] = time.time) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[str, DeviceRequest] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def _sweep(self) -> None:
        now = self._clock()
        for code in [c for c, e in self._entries.items() if e.expires_at <= now]:
            del self._entries[code]

    def create(self) -> DeviceRequest:
        """Register a new pending request (sweeping expired ones first) and return it."""
        self._sweep()
        now = self._clock()
        entry = DeviceRequest(
            device_code=new_id(now),
            user_code=new_user_code(),
            created_at=now,
            expires_at=now + self.ttl,
        )
        self._entries[entry.device_code] = entry
        return entry

    def get(self, device_code: str) -> DeviceRequest | None:
        """The live entry for `device_code`, or None if unknown or expired (then dropped)."""
        entry = self._entries.get(device_code)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            del self._entries[device_code]
            return None
        return entry

    def _undecided(self, device_code: str) -> DeviceRequest | None:
        entry = self.get(device_code)
        if entry is None or entry.status is not DeviceStatus.PENDING or entry.claimed:
            return None
        return entry

    def claim(self, device_code: str) -> DeviceRequest | None:
        """Reserve a pending entry for approval; None if unknown, expired or already decided.

        The caller creates the API token row, then calls `complete` (or `release` on failure).
        """
        entry = self._undecided(device_code)
        if entry is not None:
            entry.claimed = True
        return entry

    def complete(self, entry: DeviceRequest, raw_token: str) -> None:
        """Finish a claimed approval: the entry becomes approved and holds the raw token."""
        entry.status = DeviceStatus.APPROVED
        entry.token = raw_token
        entry.claimed = False

    def release(self, entry: DeviceRequest) -> None:
        """Give up a claim (token creation failed); the entry is pending again."""
        entry.claimed = False

    def deny(self, device_code: str) -> bool:
        """Deny a pending entry; False if unknown, expired or already decided."""
        entry = self._undecided(device_code)
        if entry is None:
            return False
        entry.status = DeviceStatus.DENIED
        return True

    def collect(self, entry: DeviceRequest) -> str | None:
        """Hand out an approved entry's raw token once; None if there is none (any more)."""
        token = entry.token
        if token is not None:
            entry.token = None
            entry.collected = True
        return token
