"""`random` — integers, floats, strings, bytes, hex and xids (lua-runtime §6.11).

Integers, strings and bytes come from the OS's cryptographic generator, `float` from the
ordinary one (like upstream). Sizes are capped by the execution's memory limit so a single
call cannot exhaust the worker from the Python side.
"""

from __future__ import annotations

import base64
import os
import random as std_random

from lunard.ids import new_id
from lunard.worker.modules.bridge import Bridge, LuaFunction, ModuleSpec
from lunard.worker.modules.errors import ArgumentError

_ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# os.urandom underneath, as in `secrets` (which would bring OpenSSL's libcrypto into every
# worker through hmac: ~3.5 MiB of RSS for the same generator).
_SYSTEM = std_random.SystemRandom()


def _too_large(bridge: Bridge, length: int) -> bool:
    return length * 2 > (bridge.host.limits.max_memory_bytes or 1 << 30)


def random_int(bridge: Bridge, low: int, high: int) -> int:
    return low + _SYSTEM.randrange(high - low + 1)


def random_float(bridge: Bridge) -> float:
    return std_random.random()


def random_string(bridge: Bridge, length: int) -> bytes:
    if _too_large(bridge, length):
        raise ArgumentError(1, f"length too large, got {length}")
    return "".join(_SYSTEM.choice(_ALPHANUMERIC) for _ in range(length)).encode()


def _check_length(bridge: Bridge, length: int) -> bool:
    if length <= 0:
        bridge.fail(f"length must be positive, got {length}")
        return False
    if _too_large(bridge, length):
        bridge.fail(f"length too large, got {length}")
        return False
    return True


def random_bytes(bridge: Bridge, length: int) -> bytes | None:
    return base64.b64encode(os.urandom(length)) if _check_length(bridge, length) else None


def random_hex(bridge: Bridge, length: int) -> bytes | None:
    return os.urandom(length).hex().encode() if _check_length(bridge, length) else None


def random_id(bridge: Bridge) -> bytes:
    return new_id().encode()


MODULE = ModuleSpec(
    name="random",
    functions=(
        LuaFunction(
            "int",
            random_int,
            ("int", "int"),
            check="if a1 > a2 then error(format(\"bad argument #1 to 'int' (min (%d) must be "
            'less than or equal to max (%d))", a1, a2), 2) end',
        ),
        LuaFunction("float", random_float),
        LuaFunction(
            "string",
            random_string,
            ("int",),
            check="if a1 <= 0 then error(format(\"bad argument #1 to 'string' (length must be "
            'positive, got %d)", a1), 2) end',
        ),
        LuaFunction("bytes", random_bytes, ("int",), returns="value_or_error"),
        LuaFunction("hex", random_hex, ("int",), returns="value_or_error"),
        LuaFunction("id", random_id),
    ),
)
