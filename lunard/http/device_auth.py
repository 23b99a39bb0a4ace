"""In-memory device authorization requests (http-api §2.6, DECISIONS 9). To be written."""

from __future__ import annotations


class DeviceAuthStore:
    """Pending device-flow requests, owned by the HTTP actor (lost on restart)."""

    def __init__(self, ttl: int = 300) -> None:
        self.ttl = ttl
