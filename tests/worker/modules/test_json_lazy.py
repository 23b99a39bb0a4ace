"""json's LuaJIT codec is loaded on a state's first json call (issue 13), out of reach of
whatever user code did to the standard library before that call."""

from __future__ import annotations

import sqlite3

from lunard.worker.modules import json_lua
from lunard.worker.runtime import prepare_state, run_job
from tests.factories import make_job

# Already in the codec's canonical form: it comes back byte for byte.
DOCUMENT = '{"a":[1,2.5,"x\\u003c",true,{"e":"é"}],"b":{"c":"d"},"f":"\\u2028"}'

ROUND_TRIP = f"""
function handler()
  return {{statusCode = 200, body = json.encode(json.decode([[{DOCUMENT}]]))}}
end
"""

# Everything the codec takes from the standard library, broken before json's first use.
TAMPER = """
local broken = function() error("tampered") end
for _, name in ipairs({"byte", "char", "find", "format", "sub", "match", "gsub", "rep"}) do
  string[name] = broken
end
table.concat, table.sort = broken, broken
math.floor, math.frexp, math.huge = broken, broken, 0
tonumber, pcall, error, rawget, next = broken, broken, broken, broken, broken
type = function() return "table" end
"""


def test_the_codec_is_loaded_on_the_first_json_call(state: sqlite3.Connection) -> None:
    prepared = prepare_state()
    assert prepared.bridge.cache == {}
    probe = prepared.lua.eval("function() return json.encode({1}) end")
    assert probe() == "[1]"
    assert set(prepared.bridge.cache) == {json_lua._ENCODE_KEY, json_lua._DECODE_KEY}


def test_json_is_unchanged_after_user_code_broke_the_standard_library(
    state: sqlite3.Connection,
) -> None:
    plain = run_job(make_job(ROUND_TRIP), state, prepared=prepare_state())
    tampered = run_job(make_job(TAMPER + ROUND_TRIP), state, prepared=prepare_state())
    for result in (plain, tampered):
        assert result.error is None, result.error
        assert result.response is not None
        assert result.response.body == DOCUMENT.encode()
    assert tampered.logs == [] or all("tampered" not in entry.message for entry in tampered.logs)


def test_the_codec_needs_nothing_but_the_snapshot() -> None:
    """Loaded in an environment that raises on any read, with the snapshot a prepared state
    took, the codec answers by itself (no fallback to the Python reference)."""
    prepared = prepare_state()
    lua = prepared.lua
    load = lua.eval(
        """function(chunk, std)
  setfenv(chunk, setmetatable({}, {__index = function(_, name)
    error("the codec read the global " .. tostring(name), 2) end}))
  return chunk(std)
end"""
    )
    encode, decode = load(lua.compile(json_lua._bytecode()), prepared.bridge.std)
    value = lua.eval('{a = {1, 2.5, 1e300, "x<\\0"}, b = true, c = {}, d = {e = "f"}}')
    assert encode(value) == '{"a":[1,2.5,1e+300,"x\\u003c\\u0000"],"b":true,"c":{},"d":{"e":"f"}}'
    ok, decoded = decode('{"a":[1,2.5,"\\u00e9"],"b":null,"c":{"d":false}}')
    assert ok is True
    read = lua.eval("function(t) return t.a[3], t.c.d, t.b end")
    assert read(decoded) == ("é", False, None)
