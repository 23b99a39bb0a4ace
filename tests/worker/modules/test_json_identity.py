"""json.encode/json.decode (LuaJIT codec) against the Python reference, byte for byte.

The reference is what json.py did before the codec existed and still does as its fallback:
`lua_to_python` + `gojson.dumps` for encode, `gojson.loads` + `python_to_lua` +
`table_from` for decode. Every generated value is built in a real state (the worker's
sandbox and a bare one), encoded/decoded through the real `json` globals, and compared with
the reference on the same Lua value: the text, the error message, and for decoded tables
their contents and `#t`. (Not their `next` order: Lua leaves it unspecified, and LuaJIT's
differs between two tables with the same keys when they were built differently — seen as a
flaky failure.)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import lupa.luajit21 as lupa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lunard import gojson
from lunard.worker.modules import json_lua
from lunard.worker.modules.json import lua_to_python, python_to_lua
from tests.worker.modules.conftest import RUNTIMES, Execution, World

SETTINGS = settings(
    max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None
)

# Lua: a table (or value) as text, its entries sorted, with `#t`; exact numbers.
_DUMP = """
local function dump(v, depth)
  local tv = type(v)
  if tv == "number" then
    if v == 0 then return (1 / v < 0) and "-0" or "0" end
    return string.format("%.17g", v)
  elseif tv == "string" then return string.format("%q", v)
  elseif tv ~= "table" then return tostring(v) end
  local parts = {}
  for k, x in next, v do parts[#parts + 1] = dump(k) .. "=" .. dump(x) end
  table.sort(parts)
  return "{#" .. #v .. (#parts > 0 and "," or "") .. table.concat(parts, ",") .. "}"
end
return dump, function(text)
  local value, err = json.decode(text)
  if err ~= nil then return nil, err end
  return dump(value)
end
"""


class Codec:
    """The real `json` globals of one execution, and the reference on the same values."""

    def __init__(self, lua: Execution, runtime: str) -> None:
        self.lua = lua.lua
        self.text_mode = runtime == "sandbox"  # strings reach Python as str there
        self.encode = self.lua.eval("json.encode")
        self.decode = self.lua.eval("json.decode")
        self.dump, self.decode_dump = self.lua.execute(_DUMP)
        # A value as the reference received it: crossed from Lua to Python (-0.0 → 0).
        self.crossed = self.lua.eval("function(...) return ... end")

    def as_text(self, value: Any) -> bytes:
        if isinstance(value, str):
            return value.encode("utf-8", "surrogateescape")
        return bytes(value)

    def new_encode(self, value: Any) -> tuple[bytes | None, bytes | None]:
        result = self.encode(value)
        if isinstance(result, tuple):
            return None, self.as_text(result[1])
        return self.as_text(result), None

    def old_encode(self, value: Any) -> tuple[bytes | None, bytes | None]:
        try:
            return gojson.dumps(lua_to_python(self.crossed(value))).encode("utf-8"), None
        except gojson.UnsupportedValue as exc:
            return None, str(exc).encode()

    def new_decode(self, text: bytes) -> tuple[bytes | None, bytes | None]:
        result = self.decode_dump(text)  # dumped in Lua: -0.0 would not survive the crossing
        if isinstance(result, tuple):
            return None, self.as_text(result[1])
        return self.as_text(result), None

    def old_decode(self, text: bytes) -> tuple[bytes | None, bytes | None]:
        arg: str | bytes = text.decode("utf-8", "surrogateescape") if self.text_mode else text
        try:
            value = python_to_lua(gojson.loads(arg))
        except gojson.DecodeError as exc:
            return None, str(exc).encode("utf-8", "surrogateescape")
        if isinstance(value, (dict, list)):
            value = self.lua.table_from(value, recursive=True)
        return self.as_text(self.dump(value)), None


@pytest.fixture(params=RUNTIMES)
def codec(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    world = World(tmp_path, request.param)
    yield Codec(world.execution(), request.param)
    world.close()


# --------------------------------------------------------------------------- values

BORDERS = [
    1e21, math.nextafter(1e21, 0), 1e-6, math.nextafter(1e-6, 0), 1e-7, 1e20, 2.0**53,
    2.0**53 + 2, 2.0**63, -(2.0**63), 2.0**64, 5e-324, 1.7976931348623157e308, 0.1 + 0.2,
    -0.0, 0.0, 123456789.125, 1.5e21, 1e300, float("nan"), float("inf"), float("-inf"),
]  # fmt: skip
POWERS = st.integers(-1074, 1023).map(lambda k: 2.0**k)
NUMBERS = st.one_of(
    st.floats(),
    st.sampled_from(BORDERS),
    POWERS,
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-(10**6), 10**6),
    st.floats(-1e6, 1e6).map(lambda x: round(x, 3)),
)
SPECIAL_TEXT = st.sampled_from(
    ['<', '>', '&', '"', "\\", "\n", "\r", "\t", "\x00", "\x01", "\x1f", "\x7f", "é", "€",
     "😀", "\u2028", "\u2029", "a", "key", " ", "\ufffd"]
)  # fmt: skip
BAD_BYTES = st.sampled_from(
    [b"\xff", b"\x80", b"\xc0\xaf", b"\xe2\x82", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
     b"\xf0\x9f\x98", b"\xe0\x80\x80", b"\xc3"]
)  # fmt: skip
STRINGS = st.lists(
    st.one_of(SPECIAL_TEXT.map(lambda s: s.encode()), BAD_BYTES, st.binary(max_size=3)),
    max_size=6,
).map(b"".join) | st.text(max_size=8).map(lambda s: s.encode("utf-8", "surrogatepass"))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, STRINGS)
KEYS = st.one_of(
    STRINGS,
    st.integers(-2, 12),
    st.sampled_from([1.5, 0.5, -2.5, 3.0, 2.0**21, 1e300, 2.0**63, float("inf")]),
    st.booleans(),
)


def _tables(children: Any) -> Any:
    return st.one_of(
        st.lists(children, max_size=6),
        st.dictionaries(KEYS, children, max_size=6),
        st.dictionaries(st.integers(1, 8), children, max_size=6),
    )


VALUES = st.recursive(SCALARS, _tables, max_leaves=25)


def _to_lua(codec: Codec, value: Any) -> Any:
    if isinstance(value, list):
        return codec.lua.table_from([_to_lua(codec, v) for v in value])
    if isinstance(value, dict):
        return codec.lua.table_from({k: _to_lua(codec, v) for k, v in value.items()})
    return value


def test_encode_matches_reference(codec: Codec) -> None:
    @SETTINGS
    @given(VALUES)
    def check(value: Any) -> None:
        lua_value = _to_lua(codec, value)
        assert codec.new_encode(lua_value) == codec.old_encode(lua_value)

    check()


def test_encode_numbers_match_reference(codec: Codec) -> None:
    @SETTINGS
    @given(st.lists(NUMBERS, min_size=1, max_size=20))
    def check(numbers: list[float]) -> None:
        for number in numbers:
            assert codec.new_encode(number) == codec.old_encode(number), number

    check()


def test_encode_failures_match_reference(codec: Codec) -> None:
    lua = codec.lua
    cyclic = lua.execute("local t = {a = 1, b = {}} t.b.c = t return t")
    deep_ok = lua.execute("local t = 1 for _ = 1, 200 do t = {t} end return t")
    deep_bad = lua.execute("local t = 1 for _ = 1, 201 do t = {t} end return t")
    sparse = lua.execute("return {[2^21] = 1, [1] = 2}")
    sparse_float = lua.execute("return {[1e300] = 1}")
    both = lua.execute("local t = {n = 0/0, s = {[2^30] = 1}} return t")
    mixed_cycle = lua.execute("local t = {1, 2} t[3] = t return {x = t, y = 1/0}")
    dropped_cycle = lua.execute("local t = {k = 1} t[1] = t return t")
    for value in (cyclic, deep_ok, deep_bad, sparse, sparse_float, both, mixed_cycle,
                  dropped_cycle):  # fmt: skip
        assert codec.new_encode(value) == codec.old_encode(value)
    assert codec.new_encode(deep_bad)[1] == b"json: unsupported value: encountered a cycle"
    assert codec.new_encode(sparse)[1] == (
        b"json: unsupported value: sparse array (largest index 2097152)"
    )
    assert codec.new_encode(dropped_cycle) == (b'{"k":1}', None)


def test_encode_sorts_keys_by_bytes_and_functions_are_null(codec: Codec) -> None:
    value = codec.lua.execute(
        'return {["\\255"] = 1, ["\\127"] = 2, ["é"] = 3, a = print, B = {[0] = 1}, '
        '["a\\0b"] = 4, ["a"] = coroutine.create(print)}'
    )
    text, err = codec.new_encode(value)
    assert err is None and text == codec.old_encode(value)[0]
    assert text == b'{"B":{},"a":null,"a\\u0000b":4,"\x7f":2,"\xc3\xa9":3,"\\ufffd":1}'
    many = codec.lua.execute("local t = {} for i = 1, 300 do t['k' .. (i * 7919 % 1000)] = i end "
                             "return t")  # fmt: skip
    assert codec.new_encode(many) == codec.old_encode(many)


# --------------------------------------------------------------------------- decoding

JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=6),
        SPECIAL_TEXT,
    ),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=3) | SPECIAL_TEXT, children, max_size=5)
    ),
    max_leaves=20,
)
WHITESPACE = st.sampled_from(["", " ", "\n", "\t\r ", "\x0c", "\u00a0"])
NOISE = st.sampled_from(
    [",", "]", "}", ":", '"', "\\", "\\u", "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\x",
     "nul", "tru", "-", "0", "01", "1.", "1e", "1e400", "-1e-400", "NaN", "Infinity",
     "-Infinity", "\x00", "\x1f", "\x7f", "é", "\u2028", "[", "{", "null", "-0", "1E5"]
)  # fmt: skip


@st.composite
def json_texts(draw: Any) -> bytes:
    document = json.dumps(draw(JSON_VALUES), ensure_ascii=draw(st.booleans()))
    text = draw(WHITESPACE) + document + draw(WHITESPACE)
    data = text.encode("utf-8", "surrogatepass")
    mutation = draw(st.sampled_from(["none", "none", "cut", "insert", "bytes"]))
    if mutation != "none" and data:
        at = draw(st.integers(0, len(data)))
        if mutation == "cut":
            data = data[:at]
        elif mutation == "insert":
            data = data[:at] + draw(NOISE).encode("utf-8", "surrogatepass") + data[at:]
        else:
            data = data[:at] + draw(BAD_BYTES | st.binary(max_size=2)) + data[at:]
    return data


def test_decode_matches_reference(codec: Codec) -> None:
    @SETTINGS
    @given(json_texts())
    def check(text: bytes) -> None:
        assert codec.new_decode(text) == codec.old_decode(text)

    check()


DECODE_CASES = [
    b"", b" ", b"null", b"-0", b"[-0]", b"-0.0e0", b'{"a":-0}', b"0", b"[1,null,3]",
    b"[null]", b"[1,null]", b"[1,null,null,null,5]", b'{"a":null}', b'{"a":1,"a":null}',
    b'{"a":null,"b":1,"a":2}', b'{"a":1,"b":2,"a":3}', b'["\\ud800"]', b'{"\\ud800":1,"\\ufffd":2}',
    b'"\\ud83d\\ude00"', b'"\\ud83d\\u0041"', b'"\xff"', b'{"\xff":1,"\\udcff":2}',
    b"1e400", b"-1e400", b"123456789012345678901234567890", b"0.1e-999", b"1" * 400,
    b"[" * 199 + b"]" * 199, b"[" * 201 + b"]" * 201, b"[" * 300 + b"]" * 300,
    b"[" * 5000, b"[" * 300, b"tr", b"nulll", b"[1,]", b'{"a" 1}', b"\x0c1", b"1\x0c", b"[1,\x0c]",
    b'"\\u00e9\\u0000\\/\\b\\f"', b'"a\tb"', b"\xef\xbb\xbf1",
]  # fmt: skip


@pytest.mark.parametrize("text", DECODE_CASES)
def test_decode_cases_match_reference(codec: Codec, text: bytes) -> None:
    assert codec.new_decode(text) == codec.old_decode(text)


# --------------------------------------------------------------------------- the fast path


def test_the_codec_itself_answers_plain_values() -> None:
    """The identity above must not come from the fallback: loaded alone, the codec answers
    every plain value and document itself, with the reference's text."""
    lua = lupa.LuaRuntime(encoding=None)
    encode, decode = lua.execute(json_lua._bytecode(), mode="b")
    crossed = lua.eval("function(...) return ... end")
    plain_numbers = st.integers(-(2**53) + 1, 2**53 - 1) | st.floats(-1e30, 1e30).filter(
        lambda x: x == 0 or (abs(x) > 1e-300 and abs(math.frexp(x)[0]) != 0.5)
    )
    plain = st.recursive(
        st.one_of(st.booleans(), plain_numbers, STRINGS),
        lambda children: (
            st.lists(children, min_size=1, max_size=5)
            | st.dictionaries(STRINGS, children, max_size=5)
        ),
        max_leaves=20,
    )

    @SETTINGS
    @given(plain)
    def check(value: Any) -> None:
        # crossed once, as the reference receives it (-0.0 arrives as 0)
        table = crossed(
            lua.table_from(value, recursive=True) if isinstance(value, (list, dict)) else value
        )
        text = encode(table)
        assert text is not None
        assert text == gojson.dumps(lua_to_python(table)).encode()
        assert decode(text)[0] is True

    check()
    document = [{"id": i, "name": f"x{i}", "ok": True} for i in range(2000)]
    ok, decoded = decode(json.dumps(document).encode())
    assert ok is True
    assert lua.eval("function(t) return #t, t[2000].name, t[7].id end")(decoded) == (
        2000,
        b"x1999",
        6,
    )
