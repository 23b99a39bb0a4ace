"""`json` — encode/decode with Go's `encoding/json` rules (lua-runtime §6.5).

Lua → JSON: a table whose keys are all numbers, with a positive largest key, is an array of
that length (holes → null, keys ≤ 0 dropped); any other table is an object of its string
keys only; `{}` is `{}`. Functions, userdata and threads are null. Text follows `gojson`.
JSON → Lua: null → nil (removes object keys, leaves array holes), numbers → Lua numbers.
Failures return `nil, err`.

Speed: the work is done inside LuaJIT by `json_lua` (json_codec.lua), one crossing per call
instead of one per element. The Python functions below (`reference_encode`,
`reference_decode`) are the reference that codec reproduces byte for byte; they still answer
every failure and the rare inputs the codec leaves to them, so messages stay theirs.
"""

from __future__ import annotations

import math
import re
from typing import Any

import lupa.luajit21 as lupa

from lunard import gojson
from lunard.worker.modules import json_lua
from lunard.worker.modules.bridge import Bridge, LuaFunction, ModuleSpec, as_bytes

SPARSE_LIMIT = 1 << 20
"""A numeric-keyed table is refused when its largest key passes this *and* 16x its size:
upstream would allocate an array that long (`{[1e9] = 1}`) and crash the server."""

_SURROGATE = re.compile("[\ud800-\udfff]")
# Values lupa hands over that need no conversion (the recursion's fast path).
_SCALARS = frozenset({type(None), bool, int, float, bytes, str})


def lua_to_python(value: Any, depth: int = 0) -> Any:
    """A Lua value (as lupa hands it over) in the shapes `gojson.dumps` takes.

    Raise UnsupportedValue past gojson.MAX_DEPTH nested tables (how cycles are caught).
    """
    if value is None or isinstance(value, (bool, int, float, bytes, str)):
        return value
    if lupa.lua_type(value) != "table":
        return None
    if depth >= gojson.MAX_DEPTH:
        raise gojson.UnsupportedValue("json: unsupported value: encountered a cycle")
    items = list(value.items())
    largest = 0
    is_array = True
    for key, _ in items:
        if isinstance(key, bool) or not isinstance(key, (int, float)):
            is_array = False
            break
        largest = max(largest, _truncate(key))
    if is_array and largest > 0:
        if largest > SPARSE_LIMIT and largest > 16 * len(items):
            raise gojson.UnsupportedValue(
                f"json: unsupported value: sparse array (largest index {largest})"
            )
        by_index = {k: v for k, v in items if isinstance(k, int)}
        values = (by_index.get(i) for i in range(1, largest + 1))
        return [v if type(v) in _SCALARS else lua_to_python(v, depth + 1) for v in values]
    return {
        as_bytes(k): v if type(v) in _SCALARS else lua_to_python(v, depth + 1)
        for k, v in items
        if isinstance(k, (bytes, str))
    }


def _truncate(key: int | float) -> int:
    # Go's int(±Inf) is negative, so infinities never make an array longer.
    if isinstance(key, int):
        return key
    return 0 if math.isnan(key) or math.isinf(key) else int(key)


def _clean(text: str) -> bytes:
    """Decoded JSON text as a Lua string; lone surrogates (from \\ud800) become U+FFFD."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text).encode("utf-8")


def python_to_lua(value: Any) -> Any:
    """Decoded JSON in the shapes lupa pushes as Lua values (strings as bytes)."""
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, dict):
        return {_clean(k): python_to_lua(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [python_to_lua(item) for item in value]
    return value


def reference_encode(bridge: Bridge, value: Any) -> bytes | None:
    """`json.encode` through Python (lua_to_python, then gojson): the reference."""
    try:
        return gojson.dumps(lua_to_python(value)).encode("utf-8")
    except gojson.UnsupportedValue as exc:
        return bridge.fail(str(exc))


def reference_decode(bridge: Bridge, text: str | bytes) -> Any:
    """`json.decode` through Python (gojson, then python_to_lua): the reference."""
    try:
        value = gojson.loads(text)
    except gojson.DecodeError as exc:
        return bridge.fail(str(exc))
    value = python_to_lua(value)
    if isinstance(value, (dict, list)):
        return bridge.table(value)
    return value


def encode(bridge: Bridge, value: Any) -> Any:
    fast = json_lua.encoder(bridge)
    if fast is not None:
        text = fast(value)
        if text is not None:
            return text
    return reference_encode(bridge, value)


def decode(bridge: Bridge, text: str | bytes) -> Any:
    fast = json_lua.decoder(bridge)
    if fast is not None:
        answer = fast(text)
        # A number crossing to Python as int 0 may have been -0.0: the reference keeps it.
        if answer is not False and not (type(answer[1]) is int and answer[1] == 0):
            return answer[1]
    return reference_decode(bridge, text)


MODULE = ModuleSpec(
    name="json",
    functions=(
        LuaFunction("encode", encode, ("any",), returns="value_or_error"),
        LuaFunction("decode", decode, ("string",), returns="value_or_error"),
    ),
)
