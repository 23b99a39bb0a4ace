"""What `ai.chat` and `email.send` records have in common (lua-runtime §10).

Each tracked call starts a `CallClock` once its options are valid; its record gets the
shared fields from `outcome_fields` and is appended by `record`, which logs a failure to
build it instead of failing the function.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lunard.ids import new_id
from lunard.masking import mask_json_text
from lunard.worker.host import HostContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallClock:
    """When a tracked call started: monotonic for its duration, Unix seconds for the record."""

    started: float = field(default_factory=time.monotonic)
    created_at: int = field(default_factory=lambda: int(time.time()))


def outcome_fields(
    clock: CallClock, error: str | None, response_text: str | None
) -> dict[str, Any]:
    """The fields every tracking row shares: id, masked response, status, error, timing."""
    return {
        "id": new_id(),
        "response_json": None if response_text is None else mask_json_text(response_text),
        "status": "error" if error is not None else "success",
        "error_message": error,
        "duration_ms": int((time.monotonic() - clock.started) * 1000),
        "created_at": clock.created_at,
    }


def record(host: HostContext, call: str, append: Callable[[], None]) -> None:
    """Run `append` (which adds the row to the host); a failure is logged, never raised."""
    try:
        append()
    except Exception:
        log.exception("tracking %s failed (execution %s)", call, host.execution_id)
