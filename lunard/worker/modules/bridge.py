"""The one mechanism every host module uses to cross between Lua and Python.

A module declares its Lua functions as `LuaFunction` specs (argument kinds, return style) and
gives Python implementations. From all specs we generate, once per process, one Lua chunk of
thin wrappers. Each wrapper checks and coerces its arguments the way GopherLua does
(lua-runtime §5.1) and raises `bad argument #N to '<fn>' (<type> expected, got <type>)` at the
caller's line with `error(msg, 3)`, then calls the Python implementation and shapes its
result into the Lua return convention (§5.3).

Python implementations never see a wrong type and never build multi-value returns: they
return one value, or record a failure with `Bridge.fail(message)` (the wrapper turns it into
`nil, err` or a raised error, depending on the function's style).

Strings: implementations accept `str` or `bytes` (the runtime may or may not decode Lua
strings) and always hand `bytes` back, which lupa pushes as raw Lua strings whatever the
runtime's encoding is. Lua strings are byte strings; binary data must survive.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import lupa.luajit21 as lupa

from lunard import gojson
from lunard.worker.host import HostContext

ReturnStyle = Literal["value", "value_or_raise", "none", "pair", "value_or_error"]
"""How a wrapper returns what the implementation gave (None + `fail` = failure):

- value:          `return v` (implementation never fails);
- value_or_raise: `v`, or the failure message raised at the caller's line;
- none:           nothing; the implementation returns None, or a message to raise;
- pair:           `v, nil`, or `nil, err`;
- value_or_error: `v` (one value, may be nil), or `nil, err`.
"""

ARG_KINDS = ("string", "number", "int", "optint", "table", "opttable", "any", "raw")
"""Argument checks (lua-runtime §5.1): `string` also takes numbers (Go-style text); `number`
also numeric strings; `int` numbers only, truncated toward zero; `optint` nil → default;
`table`; `opttable` nil or a table; `any` any value but it must be present; `raw` unchecked
(the implementation decides)."""


Implementation = Callable[..., Any]
"""`impl(bridge, *checked_args)`: one Python function per Lua function, shared by all runs."""


@dataclass(frozen=True)
class LuaFunction:
    """One Lua-visible function of a module and its Python implementation.

    `args` are ARG_KINDS; `optint` takes its default from `defaults[index]`. `check` is Lua
    run after the arguments are coerced (names `a1`, `a2`...), for checks that raise with
    upstream's own wording (`error(msg, 2)` points at the caller).
    """

    name: str
    impl: Implementation
    args: tuple[str, ...] = ()
    returns: ReturnStyle = "value"
    check: str = ""
    defaults: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ModuleSpec:
    """A global table: its name and its functions, in registration order."""

    name: str
    functions: tuple[LuaFunction, ...]


class Bridge:
    """Per-execution glue: the runtime, the host, and a failure slot.

    Lua wrappers reach every implementation through `call(index, *args)`, so an execution
    costs one Python callable on the Lua side, not one per function. `fail(msg)` records a
    failure and returns None, so an implementation can `return bridge.fail("...")`; the
    wrapper collects it right after the call (see ReturnStyle).
    """

    __slots__ = ("_error", "_implementations", "host", "lua")

    def __init__(
        self, lua: lupa.LuaRuntime, host: HostContext, implementations: Sequence[Implementation]
    ) -> None:
        self.lua = lua
        self.host = host
        self._implementations = implementations
        self._error: bytes | None = None

    def call(self, index: int, *args: Any) -> Any:
        """Run implementation `index` (as numbered by `generate_source`) for this execution."""
        return self._implementations[index](self, *args)

    def fail(self, message: str | bytes) -> Any:
        """Record a failure for the current call (see ReturnStyle); always returns None."""
        self._error = as_bytes(message)
        return None

    def take_error(self) -> bytes | None:
        """The recorded failure, cleared (called by wrappers only)."""
        message, self._error = self._error, None
        return message

    def table(self, value: Mapping[Any, Any] | Iterable[Any]) -> Any:
        """A Lua table built from Python data; str keys/values must already be bytes."""
        return self.lua.table_from(value, recursive=True)


# --------------------------------------------------------------------------- conversions


def as_bytes(value: str | bytes) -> bytes:
    """A Lua string as bytes, whether lupa decoded it or not."""
    if isinstance(value, bytes):
        return value
    return value.encode("utf-8", "surrogateescape")


def as_text(value: str | bytes) -> str:
    """A Lua string as text: invalid UTF-8 bytes survive as surrogate escapes."""
    if isinstance(value, str):
        return value
    return value.decode("utf-8", "surrogateescape")


def display_text(value: str | bytes) -> str:
    """A Lua string as valid text for storage: invalid UTF-8 bytes become U+FFFD."""
    data = as_bytes(value)
    return data.decode("utf-8", "replace")


def from_text(value: str) -> bytes:
    """Text back to a Lua string (inverse of `as_text`)."""
    return value.encode("utf-8", "surrogateescape")


def as_int(value: float | int) -> int:
    """A Lua number truncated toward zero; NaN → 0, infinities clamp to the int64 range."""
    if isinstance(value, int):
        return value
    if math.isnan(value):
        return 0
    if math.isinf(value):
        return 2**63 - 1 if value > 0 else -(2**63)
    return int(value)


def number_to_string(value: float | int) -> str:
    """A Lua number as upstream (GopherLua) prints it (lua-runtime §11.2).

    Integral values inside the int64 range print as integers (`2^53` → `9007199254740992`);
    others use Go's shortest form with an exponent outside 1e-4 ≤ |x| < 1e6
    (`1234567.5` → `1.2345675e+06`, `1e20` → `1e+20`); NaN → `NaN`, ±Inf → `+Inf`/`-Inf`.
    """
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and -(2**63) <= value < 2**63:
        return str(int(value))
    digits, exp10 = gojson.shortest_digits(value)
    sign = "-" if value < 0 else ""
    if exp10 < -4 or exp10 >= 6:
        return sign + gojson.exponent_notation(digits, exp10, 2)
    return sign + gojson.fixed_notation(digits, exp10)


def lua_number_bytes(value: float | int) -> bytes:
    """`number_to_string` as a Lua string (the wrappers' number → string coercion)."""
    return number_to_string(value).encode()


def field_string(value: Any) -> bytes:
    """The lenient "as-string" of table fields (§5.2): strings, numbers, else `""`."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, bool) or value is None:
        return b""
    if isinstance(value, (int, float)):
        return lua_number_bytes(value)
    return b""


def is_table(value: Any) -> bool:
    """Whether a value from Lua is a Lua table."""
    return lupa.lua_type(value) == "table"


def table_items(table: Any) -> list[tuple[Any, Any]]:
    """A Lua table's (key, value) pairs in GopherLua's walk order: 1..n first, then the rest."""
    items = list(table.items())
    if not items:
        return items
    sequence: list[tuple[Any, Any]] = []
    seen: set[int] = set()
    index = 1
    lookup = {key: val for key, val in items if isinstance(key, int) and not isinstance(key, bool)}
    while index in lookup:
        sequence.append((index, lookup[index]))
        seen.add(index)
        index += 1
    rest = [(k, v) for k, v in items if not _is_seen_index(k, seen)]
    return sequence + rest


def _is_seen_index(key: Any, seen: set[int]) -> bool:
    return isinstance(key, int) and not isinstance(key, bool) and key in seen


# --------------------------------------------------------------------------- Lua generation

_PRELUDE = """
local F, G, N, E = ...
local type, error, format, tonumber, select = type, error, string.format, tonumber, select
local floor, ceil = math.floor, math.ceil

local function bad(n, f, expected, v)
  return format("bad argument #%d to '%s' (%s expected, got %s)", n, f, expected, type(v))
end
-- Each checker is called by a wrapper only when the fast path failed; level 3 is the caller.
local function cs(v, n, f)
  if type(v) == "number" then return N(v) end
  error(bad(n, f, "string", v), 3)
end
local function cn(v, n, f)
  if type(v) == "string" then
    local x = tonumber(v)
    if x ~= nil then return x end
  end
  error(bad(n, f, "number", v), 3)
end
local function ci(v, n, f)
  if type(v) ~= "number" then error(bad(n, f, "number", v), 3) end
  if v ~= v then return 0 end
  if v >= 0 then return floor(v) end
  return ceil(v)
end
local function ct(v, n, f)
  error(bad(n, f, "table", v), 3)
end
"""

_ARG_CHECKS = {
    "string": 'if type({a}) ~= "string" then {a} = cs({a}, {n}, "{f}") end',
    "number": 'if type({a}) ~= "number" then {a} = cn({a}, {n}, "{f}") end',
    "int": 'if type({a}) ~= "number" or {a} % 1 ~= 0 then {a} = ci({a}, {n}, "{f}") end',
    "optint": 'if {a} == nil then {a} = {d} elseif type({a}) ~= "number" or {a} % 1 ~= 0 then '
    '{a} = ci({a}, {n}, "{f}") end',
    "table": 'if type({a}) ~= "table" then ct({a}, {n}, "{f}") end',
    "opttable": 'if {a} ~= nil and type({a}) ~= "table" then ct({a}, {n}, "{f}") end',
    "raw": "",
}

_RETURNS = {
    "value": "return F({args})",
    "value_or_raise": "local v = F({args}) if v == nil then local e = E() "
    "if e ~= nil then error(e, 2) end end return v",
    "none": "local e = F({args}) if e ~= nil then error(e, 2) end",
    "pair": "local v = F({args}) if v == nil then return nil, E() end return v, nil",
    "value_or_error": "local v = F({args}) if v == nil then local e = E() "
    "if e ~= nil then return nil, e end end return v",
}


def _wrapper_source(module: str, fn: LuaFunction, slot: int) -> str:
    names = [f"a{i + 1}" for i in range(len(fn.args))]
    if "any" in fn.args:
        head = f"function(...) local {', '.join(names)} = ...\n"
    else:
        head = f"function({', '.join(names)})\n"
    lines = [head]
    for index, kind in enumerate(fn.args):
        if kind not in ARG_KINDS:
            raise ValueError(f"{module}.{fn.name}: unknown argument kind {kind!r}")
        if kind == "any":
            lines.append(
                f'if select("#", ...) < {index + 1} then error(format('
                f"\"bad argument #{index + 1} to '{fn.name}' (value expected)\"), 2) end\n"
            )
            continue
        template = _ARG_CHECKS[kind]
        if template:
            default = fn.defaults.get(index, 0)
            lines.append(template.format(a=names[index], n=index + 1, f=fn.name, d=default) + "\n")
    if fn.check:
        lines.append(fn.check + "\n")
    call_args = ", ".join([str(slot), *names])
    lines.append(_RETURNS[fn.returns].format(args=call_args) + "\nend")
    return f'M["{fn.name}"] = {"".join(lines)}\n'


def implementations(modules: Iterable[ModuleSpec]) -> tuple[Implementation, ...]:
    """Every implementation, numbered as `generate_source` numbers the wrappers."""
    return tuple(fn.impl for spec in modules for fn in spec.functions)


def generate_source(modules: Iterable[ModuleSpec]) -> str:
    """The Lua chunk that builds every module table and assigns the globals, in order.

    The chunk is called with (F, G, N, E): F is `Bridge.call`, G the table receiving the
    globals, N formats numbers, E takes the pending failure.
    """
    parts = [_PRELUDE]
    index = 0
    for spec in modules:
        parts.append("do local M = {}\n")
        for fn in spec.functions:
            parts.append(_wrapper_source(spec.name, fn, index))
            index += 1
        parts.append(f'G["{spec.name}"] = M end\n')
    return "".join(parts)
