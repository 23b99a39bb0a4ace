"""What a host function raises to fail its Lua call (lua-runtime §5.1, §5.3 style 1).

Implementations raise these instead of returning; `Bridge.call` turns every exception,
ours or not, into the Lua error string the caller sees, raised at the caller's line. So a
Python exception object, or Python's wording, never reaches Lua.
"""

from __future__ import annotations

NO_INTEGER = "number has no integer representation"
"""The reason of an argument error for NaN, ±inf and numbers outside the int64 range, in
Lua 5.3's words (GopherLua converts them to an arbitrary integer instead)."""

OUT_OF_MEMORY = "not enough memory"
"""Lua's own message for an allocation failure; a Python MemoryError reads the same."""


class HostError(Exception):
    """Fails the current host call with `message` (the whole Lua error text)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def lua_message(self, function: str) -> str:
        """The text Lua receives when this is raised by the Lua function `function`."""
        return self.message


class ArgumentError(HostError):
    """An argument the function cannot take: `bad argument #N to '<fn>' (<reason>)`.

    The Lua function's name is added by the bridge, which knows which function ran.
    """

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(reason)
        self.position = position
        self.reason = reason

    def lua_message(self, function: str) -> str:
        return f"bad argument #{self.position} to '{function}' ({self.reason})"
