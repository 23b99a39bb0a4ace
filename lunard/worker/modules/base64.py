"""`base64` — standard alphabet with padding, strict decoding like Go (lua-runtime §6.6).

Decoding ignores CR and LF anywhere and otherwise refuses bad characters, misplaced padding
and a truncated final group with `nil, "illegal base64 data at input byte N"` (N counted in
the original input).
"""

from __future__ import annotations

import base64 as std_base64

from lunard.worker.modules.bridge import Bridge, LuaFunction, ModuleSpec, as_bytes

_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def corrupt_offset(data: bytes) -> int | None:
    """Where Go's `StdEncoding.DecodeString` would report corrupt input, or None if valid."""
    position = 0  # index within the current 4-character group
    padding_at: int | None = None  # group position of the first '='
    last = -1
    for index, byte in enumerate(data):
        if byte in (0x0A, 0x0D):
            continue
        if padding_at is not None:
            # After '=' only a second '=' completing "xx==" may follow.
            if byte == 0x3D and padding_at == 2 and position == 3:
                position = 0
                padding_at = 4
                last = index
                continue
            return index
        if byte == 0x3D:
            if position < 2:
                return index
            padding_at = position
            if position == 3:
                position = 0
                padding_at = 4
            else:
                position += 1
            last = index
            continue
        if byte not in _ALPHABET:
            return index
        position = (position + 1) % 4
        last = index
    if padding_at is not None and padding_at != 4:
        return len(data)  # "xx=" without its second '='
    if position == 1:
        return last
    if position in (2, 3):
        return len(data)
    return None


def encode(bridge: Bridge, value: str | bytes) -> bytes:
    return std_base64.b64encode(as_bytes(value))


def decode(bridge: Bridge, value: str | bytes) -> bytes | None:
    data = as_bytes(value)
    offset = corrupt_offset(data)
    if offset is not None:
        return bridge.fail(f"illegal base64 data at input byte {offset}")
    return std_base64.b64decode(data.replace(b"\r", b"").replace(b"\n", b""))


MODULE = ModuleSpec(
    name="base64",
    functions=(
        LuaFunction("encode", encode, ("string",)),
        LuaFunction("decode", decode, ("string",), returns="pair"),
    ),
)
