"""json.encode / json.decode of 100,000 `{id=i, name="x"..i, ok=true}` objects (issue 13).

Both sides run in a real worker sandbox (new_runtime → install_modules → seal, as the tests'
`Execution` does), in the same run: "old" is the Python reference that json.py keeps
(`reference_encode` / `reference_decode`, what json.encode/decode were before the LuaJIT
codec), "new" the `json` globals as user code calls them. Times are wall-clock seconds of
the call alone (median of 3), measured inside Lua; the texts are checked to be identical.
Target: new ≤ 0.3 s each.

Run: `python -m bench.json_codec`.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from lunard.messages import JobLimits
from lunard.worker.modules import json as json_module
from lunard.worker.modules.bridge import Bridge, LuaFunction, ModuleSpec, registry
from lunard.worker.modules.wrappers import generate_source
from tests.worker.modules.conftest import World

COUNT = 100_000
ROUNDS = 3
TARGET = 0.3
LIMITS = JobLimits(
    max_memory_bytes=1 << 30,
    max_log_entries=1000,
    max_log_bytes=1 << 20,
    http_max_response_bytes=1 << 20,
)

# The reference functions behind the same generated wrappers the real module uses.
_OLD = ModuleSpec(
    name="oldjson",
    functions=(
        LuaFunction("encode", json_module.reference_encode, ("any",), returns="value_or_error"),
        LuaFunction("decode", json_module.reference_decode, ("string",), returns="value_or_error"),
    ),
)

_RUN = """
local json, clock = ...
local t = {}
for i = 1, %d do t[i] = {id = i, name = "x" .. i, ok = true} end
local c = clock()
local text = json.encode(t)
local encode_s = clock() - c
c = clock()
local back = json.decode(text)
local decode_s = clock() - c
assert(#back == #t and back[#t].name == t[#t].name)
return encode_s, decode_s, text
"""


def _old_module(world: World) -> tuple[Any, Any]:
    """An execution plus the reference `json` installed next to the real one."""
    execution = world.execution(limits=LIMITS, timeout=3600)
    lua = execution.lua
    bridge = Bridge(lua, execution.host, registry([_OLD]))
    setup = lua.execute(
        "local src = ... return loadstring(src, '=oldjson')", generate_source([_OLD]).encode()
    )
    box = lua.table()
    bridge.install(setup, box)
    return execution, box["oldjson"]


def _measure(execution: Any, module: Any) -> tuple[list[float], list[float], bytes]:
    run = execution.lua.execute(
        "local src = ... return loadstring(src, '=bench')", (_RUN % COUNT).encode()
    )
    encodes, decodes, text = [], [], b""
    for _ in range(ROUNDS):
        encode_s, decode_s, out = run(module, time.perf_counter)
        encodes.append(encode_s)
        decodes.append(decode_s)
        text = out.encode("utf-8", "surrogateescape") if isinstance(out, str) else out
    return encodes, decodes, text


def json_bench() -> None:
    """Print old vs new timings (encode, decode) and whether the texts are identical."""
    with tempfile.TemporaryDirectory() as tmp:
        world = World(Path(tmp), "sandbox")
        try:
            execution, old = _old_module(world)
            old_enc, old_dec, old_text = _measure(execution, old)
            new_exec = world.execution(limits=LIMITS, timeout=3600)
            new_enc, new_dec, new_text = _measure(new_exec, new_exec.lua.eval("json"))
        finally:
            world.close()
    print(f"json codec, {COUNT:,} objects, {len(new_text):,} bytes, median of {ROUNDS}")
    for name, old_s, new_s in (("encode", old_enc, new_enc), ("decode", old_dec, new_dec)):
        old_m, new_m = statistics.median(old_s), statistics.median(new_s)
        verdict = "ok" if new_m <= TARGET else "MISSED"
        print(
            f"  {name}: old {old_m:.3f} s, new {new_m:.3f} s "
            f"({old_m / new_m:.1f}x faster; target <= {TARGET} s: {verdict})"
        )
    print(f"  identical text: {old_text == new_text}")


if __name__ == "__main__":
    json_bench()
