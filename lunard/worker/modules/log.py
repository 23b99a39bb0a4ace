"""`log` — per-execution log lines (lua-runtime §6.1, §9.2; DECISIONS 4).

Each `log.<level>(message)` masks the message and appends a `JobLog` to the host. Past the
execution's caps (`max_log_entries` lines or `max_log_bytes` message bytes) further lines are
dropped, and one final `warn` entry says how many; it is kept up to date as drops happen, so
the logs are complete whenever the runtime reads them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from lunard.masking import mask_log_message
from lunard.wire import JobLog, LogLevel
from lunard.worker.host import HostContext
from lunard.worker.modules.bridge import Bridge, LuaFunction, ModuleSpec, display_text

LEVELS: tuple[LogLevel, ...] = ("info", "debug", "warn", "error")


def dropped_notice(count: int) -> str:
    """The text of the final entry written when lines were dropped."""
    return f"log limit reached: {count} entries dropped"


def record_log(host: HostContext, level: LogLevel, message: str, *, always: bool = False) -> None:
    """Mask `message` and store it as a log line of this execution, within the caps.

    `always` is for the runtime's own entries (DECISIONS 12: the Lua error in the
    execution's logs): stored even past the caps, just before the dropped-lines notice.
    """
    masked = mask_log_message(message)
    size = len(masked.encode("utf-8", "replace"))
    limits = host.limits
    if always and host.logs_dropped:
        host.logs.insert(len(host.logs) - 1, JobLog(level, masked, time.time()))
        return
    if always or (
        host.logs_dropped == 0
        and len(host.logs) < limits.max_log_entries
        and host.log_bytes + size <= limits.max_log_bytes
    ):
        host.logs.append(JobLog(level=level, message=masked, created_at=time.time()))
        host.log_bytes += size
        return
    host.logs_dropped += 1
    notice = JobLog(level="warn", message=dropped_notice(host.logs_dropped), created_at=time.time())
    if host.logs_dropped == 1:
        host.logs.append(notice)
    else:
        host.logs[-1] = notice


def _writer(level: LogLevel) -> Callable[[Bridge, str | bytes], None]:
    def write(bridge: Bridge, message: str | bytes) -> None:
        # Invalid UTF-8 cannot be stored as text; it shows as U+FFFD.
        record_log(bridge.host, level, display_text(message))

    return write


MODULE = ModuleSpec(
    name="log",
    functions=tuple(
        LuaFunction(level, _writer(level), ("string",), returns="none") for level in LEVELS
    ),
)
