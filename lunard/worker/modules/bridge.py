"""The one mechanism every host module uses to cross between Lua and Python.

A module declares its Lua functions as `LuaFunction` specs (argument kinds, return style) and
gives Python implementations. From all specs `wrappers.py` generates, once per process, one
Lua chunk of thin wrappers. Each wrapper checks and coerces its arguments the way GopherLua does
(lua-runtime §5.1) and raises `bad argument #N to '<fn>' (<type> expected, got <type>)` at the
caller's line with `error(msg, 3)`, then calls the Python implementation and shapes its
result into the Lua return convention (§5.3).

Python implementations never see a wrong type and never build multi-value returns: they
return one value, or record a failure with `Bridge.fail(message)` (the wrapper turns it into
`nil, err` or a raised error, depending on the function's style), or raise a `HostError`
(`ArgumentError` for `bad argument #N to '<fn>' (...)`) to raise in Lua.

Nothing Python crosses back: `Bridge.call` turns any exception into a Lua error string
(MemoryError → `not enough memory`, a bug → `<module>.<fn>: internal error`, logged) and
refuses results other than strings, numbers, booleans, nil and Lua tables. The wrapper also
calls it through `pcall`, so a failure of lupa's own conversions is reported the same way.

Strings: implementations accept `str` or `bytes` (the runtime may or may not decode Lua
strings) and always hand `bytes` back, which lupa pushes as raw Lua strings whatever the
runtime's encoding is. Lua strings are byte strings; binary data must survive.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import lupa.luajit21 as lupa

from lunard import gojson
from lunard.worker.host import HostContext
from lunard.worker.modules.errors import NO_INTEGER, OUT_OF_MEMORY, ArgumentError, HostError

log = logging.getLogger(__name__)

ReturnStyle = Literal["value", "value_or_raise", "none", "pair", "value_or_error"]
"""How a wrapper returns what the implementation gave (None + `fail` = failure):

- value:          `return v` (implementation never fails);
- value_or_raise: `v`, or the failure message raised at the caller's line;
- none:           nothing (the implementation returns None);
- pair:           `v, nil`, or `nil, err`;
- value_or_error: `v` (one value, may be nil), or `nil, err`.

In every style a raised exception becomes a Lua error at the caller's line (see Bridge.call).
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


@dataclass(frozen=True)
class Registry:
    """Every Lua function of a set of modules, numbered as `generate_source` numbers the
    wrappers: what to call, the Lua name (for `bad argument ... to '<name>'`) and
    `module.name` (for the worker's log)."""

    implementations: tuple[Implementation, ...]
    names: tuple[str, ...]
    qualified: tuple[str, ...]


def registry(modules: Iterable[ModuleSpec]) -> Registry:
    """The Registry of `modules` (build it once per process: it is shared by all runs)."""
    functions = [(spec.name, fn) for spec in modules for fn in spec.functions]
    return Registry(
        implementations=tuple(fn.impl for _, fn in functions),
        names=tuple(fn.name for _, fn in functions),
        qualified=tuple(f"{module}.{fn.name}" for module, fn in functions),
    )


_INT_LIMIT = 1 << 63  # lupa pushes Python ints as C longs; wider ones would raise
_PLAIN_RESULTS = frozenset({bytes, str, float, bool, type(None)})


def _is_lua_value(result: Any) -> bool:
    """Whether lupa turns `result` into a plain Lua value (never a Python object)."""
    kind = type(result)
    if kind in _PLAIN_RESULTS:
        return True
    if kind is int:
        return -_INT_LIMIT <= result < _INT_LIMIT
    return lupa.lua_type(result) == "table"


def _lua_error_text(exc: lupa.LuaError) -> str:
    """A Lua error (raised by a metamethod an implementation touched) without lupa's
    traceback; a non-string error value reads like the standalone interpreter's."""
    text = str(exc).partition("\nstack traceback:")[0]
    return text or "(error object is not a string)"


class Bridge:
    """Per-execution glue: the runtime, the host, and a failure slot.

    Lua wrappers reach every implementation through `call(index, *args)`, so an execution
    costs one Python callable on the Lua side, not one per function. `fail(msg)` records a
    failure and returns None, so an implementation can `return bridge.fail("...")`; the
    wrapper collects it right after the call (see ReturnStyle). A call that raised, or
    returned something Lua must not see, answers the `raised` marker instead and leaves
    the Lua error text in the same slot.
    """

    __slots__ = ("__weakref__", "_error", "_raised", "_registry", "cache", "host", "lua", "std")

    host: HostContext  # unset on a state prepared ahead until its execution is bound

    def __init__(self, lua: lupa.LuaRuntime, host: HostContext | None, functions: Registry) -> None:
        self.lua = lua
        if host is not None:
            self.host = host
        self._registry = functions
        self._error: bytes | None = None
        self._raised: Any = None  # the wrapper chunk's marker table, set by `install`
        self.cache: dict[str, Any] = {}  # per-state values of modules (json's Lua codec)
        # The standard functions host Lua loaded later takes (json's codec), as they were
        # when `install` ran, before user code: the STD table of the modules chunk.
        self.std: Any = None

    def release(self) -> None:
        """Drop every reference this bridge holds into its state and to the execution.

        The state holds the bridge (its `call` is the wrappers' upvalue), so while the
        bridge holds the state back the two form a cycle only the cyclic collector frees.
        Called once the execution is over: refcounting then frees the state as soon as its
        last handle goes. A state kept past this point reaches no execution: its host calls
        fail (as internal errors, or answer nil).
        """
        self.lua = None
        self._raised = None
        self.std = None
        self.cache.clear()
        if hasattr(self, "host"):
            del self.host

    def install(self, setup: Any, env: Any) -> None:
        """Run the compiled wrapper chunk (see `generate_source`) against `env`."""
        self._raised, self.std = setup(
            self.call, env, lua_number_bytes, self.take_error, self.describe_crossing
        )

    def call(self, index: int, *args: Any) -> Any:
        """Run implementation `index` (as numbered by `generate_source`) for this execution.

        Never raises: an exception becomes the pending Lua error and the `raised` marker
        is returned, which the wrapper turns into `error(message)` at the caller's line.
        """
        try:
            result = self._registry.implementations[index](self, *args)
        except Exception as exc:  # every failure must reach Lua as a string
            return self._raise(self._failure_text(index, exc))
        if _is_lua_value(result):
            return result
        log.error("%s returned %r, not a Lua value", self._registry.qualified[index], result)
        return self._raise(f"{self._registry.qualified[index]}: internal error")

    def _raise(self, message: str) -> Any:
        self._error = message.encode("utf-8", "surrogateescape")
        return self._raised

    def _failure_text(self, index: int, exc: Exception) -> str:
        """The Lua error text for an exception of implementation `index`."""
        if isinstance(exc, HostError):
            return exc.lua_message(self._registry.names[index])
        if isinstance(exc, MemoryError):  # includes lupa's LuaMemoryError
            return OUT_OF_MEMORY
        if isinstance(exc, lupa.LuaError):
            return _lua_error_text(exc)
        if isinstance(exc, RecursionError):
            return "stack overflow"
        qualified = self._registry.qualified[index]
        log.error("host function %s failed", qualified, exc_info=exc)
        return f"{qualified}: internal error"

    def describe_crossing(self, value: Any, index: int) -> bytes:
        """The Lua error text for what lupa raised while converting a call's arguments or
        its result (outside `call`): in practice a MemoryError; anything else is logged."""
        if isinstance(value, MemoryError):
            return OUT_OF_MEMORY.encode()
        log.error("calling %s failed in lupa: %r", self._registry.qualified[index], value)
        return f"{self._registry.qualified[index]}: internal error".encode()

    def fail(self, message: str | bytes) -> Any:
        """Record a failure for the current call (see ReturnStyle); always returns None."""
        self._error = as_bytes(message)
        return None

    def take_error(self) -> bytes | None:
        """The recorded failure, cleared (called by wrappers only)."""
        message, self._error = self._error, None
        return message

    def table(self, value: Mapping[Any, Any] | Iterable[Any]) -> Any:
        """A Lua table built from Python data; str keys/values must already be bytes.

        Only plain data (bytes, str, numbers, booleans, None, dicts, lists) may go in:
        anything else would reach Lua as a Python object.
        """
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


def whole_number(value: float | int, position: int) -> int:
    """Argument `position`, a Lua number, truncated toward zero (lua-runtime §5.1 "int").

    Raise ArgumentError `number has no integer representation` for NaN, ±inf and numbers
    outside the int64 range, like the wrappers' own `int` check.
    """
    if isinstance(value, int):
        return value
    if math.isnan(value) or not -_INT_LIMIT <= value < _INT_LIMIT:
        raise ArgumentError(position, NO_INTEGER)
    return int(value)


def as_int(value: float | int) -> int:
    """A Lua number truncated toward zero; NaN → 0, infinities clamp to the int64 range.

    For lenient reads of table fields; arguments go through `whole_number`.
    """
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
