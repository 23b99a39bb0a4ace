"""The LuaJIT side of `json` (json_codec.lua): encode/decode without a crossing per element.

`encoder(bridge)` / `decoder(bridge)` give the codec's Lua functions for the execution's
state, loading it on first use (LuaJIT bytecode compiled once per process, ~10 µs to load
into a state). They answer `None` (encode) or `(False,)` (decode) when the Python reference
in `json.py` must answer instead: every failure, and the rare inputs the Lua side leaves to
it (see the header of json_codec.lua), so results and error messages stay the reference's.

It is loaded on a state's first json call, not with the other modules: most executions
never use json, and loading it costs a prepared state ~20 µs. The codec captures the
string and table functions from `Bridge.std`, the snapshot the modules chunk takes before
user code runs, so a handler that replaces `string.format` & co cannot reach into it. It
lives in `Bridge.cache`, out of user code's reach.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from lunard.worker.modules.bridge import Bridge
from lunard.worker.sandbox import bytecode

CHUNK_NAME = b"=lunard-json"
_ENCODE_KEY = "lunard.json.encode"
_DECODE_KEY = "lunard.json.decode"


def source() -> bytes:
    """The codec's Lua source (packaged next to this module; read by path, as
    `importlib.resources` would import tempfile, shutil and the compressors into every
    worker)."""
    return Path(__file__).with_name("json_codec.lua").read_bytes()


@functools.cache
def _bytecode() -> bytes:
    """The codec as LuaJIT bytecode, compiled once per process by LuaJIT itself (~1 ms; the
    worker compiles it while idle, see `lunard.worker.modules.precompile`)."""
    return bytecode(source(), CHUNK_NAME)


def precompile() -> None:
    """Compile the codec now rather than in the first execution that calls `json`."""
    _bytecode()


def install(bridge: Bridge) -> None:
    """Load the codec into the bridge's state (one bytecode load, ~10 µs)."""
    encode, decode = bridge.lua.execute(_bytecode(), bridge.std, mode="b")
    bridge.cache[_ENCODE_KEY] = encode
    bridge.cache[_DECODE_KEY] = decode


def _function(bridge: Bridge, key: str) -> Any:
    if key not in bridge.cache:
        install(bridge)
    return bridge.cache[key]


def encoder(bridge: Bridge) -> Any:
    """`encode(value) -> text | None` in the execution's state (None: use the reference)."""
    return _function(bridge, _ENCODE_KEY)


def decoder(bridge: Bridge) -> Any:
    """`decode(text) -> (True, value) | False` in the execution's state."""
    return _function(bridge, _DECODE_KEY)
