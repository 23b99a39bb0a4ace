"""`time` — Unix seconds, Go-layout format/parse, deadline-aware sleep (lua-runtime §6.8).

`format` renders in the server's local zone, `parse` reads zone-less values as UTC (see
`gotime`). `sleep` never outlives the execution: when the deadline comes first it returns at
the deadline and raises upstream's `context deadline exceeded` at the caller's line, which is
what the next VM instruction does upstream.

Both numbers are truncated to integers, so NaN, ±inf and numbers past the int64 range are
argument errors (`number has no integer representation`), as for every integer argument.
"""

from __future__ import annotations

import time as std_time

from lunard.worker.modules.bridge import Bridge, LuaFunction, ModuleSpec, as_text, whole_number
from lunard.worker.modules.errors import HostError
from lunard.worker.modules.gotime import format_time
from lunard.worker.modules.gotime_parse import ParseError, parse_time

DEADLINE_MESSAGE = "context deadline exceeded"


def now(bridge: Bridge) -> int:
    return int(std_time.time())


def format_(bridge: Bridge, timestamp: float, layout: str | bytes) -> bytes:
    seconds = whole_number(timestamp, 1)
    return format_time(seconds, as_text(layout)).encode("utf-8", "surrogateescape")


def parse(bridge: Bridge, value: str | bytes, layout: str | bytes) -> int | None:
    try:
        return parse_time(as_text(value), as_text(layout))
    except ParseError as exc:
        return bridge.fail(str(exc).encode("utf-8", "surrogateescape"))


def sleep(bridge: Bridge, milliseconds: float) -> None:
    """Sleep, or up to the deadline and then raise the timeout message."""
    wanted = whole_number(milliseconds, 1) / 1000
    if wanted <= 0:
        return
    remaining = bridge.host.remaining()
    if wanted < remaining:
        std_time.sleep(wanted)
        return
    std_time.sleep(remaining)
    raise HostError(DEADLINE_MESSAGE)


MODULE = ModuleSpec(
    name="time",
    functions=(
        LuaFunction("now", now),
        LuaFunction("format", format_, ("number", "string")),
        LuaFunction("parse", parse, ("string", "string"), returns="pair"),
        LuaFunction("sleep", sleep, ("number",), returns="none"),
    ),
)
