"""The Lua host modules (lua-runtime §6) and `install_modules`, called once per execution.

`install_modules(lua, host)` assigns the global tables in upstream's order: log, kv, env,
(http), json, base64, crypto, time, url, strings, random, router, (ai, email). Each module
lives in its own file and declares a `MODULE` spec; `bridge` turns all specs into one Lua
chunk of argument-checking wrappers.

Cost: the wrapper chunk is generated and compiled to LuaJIT bytecode once per process; per
execution we load that bytecode and run it with one Python callable (`Bridge.call`) through
which every wrapper reaches its implementation. That one crossing is also where every Python
exception becomes a Lua error string (see `bridge`).

Adding a module: write `lunard/worker/modules/<name>.py` with a `MODULE = ModuleSpec(...)`
and put it in `MODULES` at upstream's position. Nothing else changes.
"""

from __future__ import annotations

import functools
from typing import Any

import lupa.luajit21 as lupa

from lunard.worker.host import HostContext
from lunard.worker.modules import (
    ai,
    base64,
    crypto,
    email,
    env,
    http,
    json,
    json_lua,
    kv,
    log,
    random,
    router,
    strings,
    time,
    url,
)
from lunard.worker.modules.bridge import Bridge, ModuleSpec, registry
from lunard.worker.modules.log import dropped_notice, record_log
from lunard.worker.modules.wrappers import generate_source
from lunard.worker.sandbox import bytecode

__all__ = ["MODULES", "dropped_notice", "install_modules", "precompile", "record_log"]

MODULES: tuple[ModuleSpec, ...] = (
    log.MODULE,
    kv.MODULE,
    env.MODULE,
    http.MODULE,
    json.MODULE,
    base64.MODULE,
    crypto.MODULE,
    time.MODULE,
    url.MODULE,
    strings.MODULE,
    random.MODULE,
    router.MODULE,
    ai.MODULE,
    email.MODULE,
)

CHUNK_NAME = "=lunard-modules"
_REGISTRY = registry(MODULES)


@functools.cache
def _chunk() -> bytes:
    """The wrapper chunk as LuaJIT bytecode (compiled once per process)."""
    return bytecode(generate_source(MODULES), CHUNK_NAME)


def precompile() -> None:
    """Compile the modules' Lua chunks now (once per process) instead of on first use.

    The worker calls it while idle; json's codec is otherwise compiled in the first
    execution that calls `json` (~1 ms).
    """
    _chunk()
    json_lua.precompile()


def install_modules(
    lua: lupa.LuaRuntime, host: HostContext | None = None, *, env: Any = None
) -> Bridge:
    """Register every host module as a global of `lua`; return the `Bridge` they call.

    `host` is the execution the modules work for; without it the state is prepared ahead
    and `bridge.host` must be set before user code runs (until then every host function
    fails as an internal error). `env` is the table that receives the globals (default:
    `lua.globals()`), for a sandbox that runs user code in its own environment table. Call
    before loading user code: the wrappers capture `type`, `error`, `string.format`... as
    they are at this moment.
    """
    bridge = Bridge(lua, host, _REGISTRY)
    bridge.install(lua.compile(_chunk()), lua.globals() if env is None else env)
    return bridge
