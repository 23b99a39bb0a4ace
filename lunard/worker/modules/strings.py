"""`strings` — Go's `strings` functions on Lua byte strings (lua-runtime §6.10).

Operations are byte-exact like Go; where Go works per UTF-8 character (`split` with an empty
separator, `replace` with an empty `old`, case mapping, `trim`) invalid bytes count as one
character each, as in Go.
"""

from __future__ import annotations

from typing import Any

from lunard.worker.modules.bridge import (
    Bridge,
    LuaFunction,
    ModuleSpec,
    as_bytes,
    as_text,
    field_string,
    from_text,
    table_items,
)

# Go's unicode.IsSpace: ASCII whitespace, NEL, NBSP and the Unicode White_Space spaces.
_UNICODE_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
_ASCII_TRIM = b" \t\n\r"


def trim(value: bytes) -> bytes:
    """Go's `strings.TrimSpace`."""
    if value.isascii():
        return value.strip(b"\t\n\v\f\r ")
    return from_text(as_text(value).strip(_UNICODE_SPACE))


def split(value: bytes, separator: bytes) -> list[bytes]:
    """Go's `strings.Split`; an empty separator splits into UTF-8 characters."""
    if separator:
        return value.split(separator)
    return [from_text(char) for char in as_text(value)]


def replace(value: bytes, old: bytes, new: bytes, count: int) -> bytes:
    """Go's `strings.Replace`: count < 0 → all; empty `old` inserts around characters."""
    if count == 0:
        return value
    if old:
        return value.replace(old, new, count if count > 0 else -1)
    text = as_text(value)
    limit = len(text) + 1 if count < 0 else min(count, len(text) + 1)
    insert = as_text(new)
    # `limit` insertions: before each of the first limit-1 characters' successors, Go-style.
    head = "".join(insert + char for char in text[: limit - 1])
    return from_text(head + insert + text[limit - 1 :])


def _simple_case(text: str, upper: bool) -> str:
    # Go maps one character to one character; Python's full mapping may expand (ß → SS).
    out = []
    for char in text:
        mapped = char.upper() if upper else char.lower()
        out.append(mapped if len(mapped) == 1 else char)
    return "".join(out)


def to_upper(value: bytes) -> bytes:
    """Go's `strings.ToUpper` (Unicode, one character to one)."""
    if value.isascii():
        return value.upper()
    return from_text(_simple_case(as_text(value), upper=True))


def to_lower(value: bytes) -> bytes:
    """Go's `strings.ToLower` (Unicode, one character to one)."""
    if value.isascii():
        return value.lower()
    return from_text(_simple_case(as_text(value), upper=False))


def _memory_cap(bridge: Bridge) -> int:
    return bridge.host.limits.max_memory_bytes or 1 << 30


def repeat(bridge: Bridge, value: str | bytes, count: int) -> bytes | None:
    data = as_bytes(value)
    if len(data) * count > _memory_cap(bridge):
        return bridge.fail("strings: Repeat output length overflow")
    return data * count


def join(bridge: Bridge, table: Any, separator: str | bytes) -> bytes:
    return as_bytes(separator).join(field_string(item) for _, item in table_items(table))


def _split(bridge: Bridge, value: str | bytes, separator: str | bytes) -> Any:
    return bridge.table(split(as_bytes(value), as_bytes(separator)))


def _replace(bridge: Bridge, s: str | bytes, old: str | bytes, new: str | bytes, n: int) -> bytes:
    return replace(as_bytes(s), as_bytes(old), as_bytes(new), n)


MODULE = ModuleSpec(
    name="strings",
    functions=(
        LuaFunction("trim", lambda _, s: trim(as_bytes(s)), ("string",)),
        LuaFunction("trimLeft", lambda _, s: as_bytes(s).lstrip(_ASCII_TRIM), ("string",)),
        LuaFunction("trimRight", lambda _, s: as_bytes(s).rstrip(_ASCII_TRIM), ("string",)),
        LuaFunction("split", _split, ("string", "string")),
        LuaFunction("join", join, ("table", "string")),
        LuaFunction(
            "hasPrefix", lambda _, s, p: as_bytes(s).startswith(as_bytes(p)), ("string", "string")
        ),
        LuaFunction(
            "hasSuffix", lambda _, s, p: as_bytes(s).endswith(as_bytes(p)), ("string", "string")
        ),
        LuaFunction(
            "replace", _replace, ("string", "string", "string", "optint"), defaults={3: -1}
        ),
        LuaFunction("toLower", lambda _, s: to_lower(as_bytes(s)), ("string",)),
        LuaFunction("toUpper", lambda _, s: to_upper(as_bytes(s)), ("string",)),
        LuaFunction(
            "contains", lambda _, s, sub: as_bytes(sub) in as_bytes(s), ("string", "string")
        ),
        LuaFunction(
            "repeat",
            repeat,
            ("string", "int"),
            returns="value_or_raise",
            check='if a2 < 0 then error("strings: negative Repeat count", 2) end',
        ),
    ),
)
