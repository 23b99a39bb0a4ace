"""`env` — the function's environment variables (lua-runtime §6.3).

`get` reads the variables handed to this execution (`host.env`); `set`/`delete` write the
`env_vars` table like upstream's store and keep `host.env` in step, so a later `get` (and
`ai`/`email`, which read credentials from it) sees the change. Failures give nil/false.
"""

from __future__ import annotations

from lunard.state.kv import KeyValueTable
from lunard.worker.modules.bridge import Bridge, LuaFunction, ModuleSpec, as_bytes, display_text

ENV = KeyValueTable("env_vars", announce_function=True)


def get(bridge: Bridge, key: str | bytes) -> bytes | None:
    value = bridge.host.env.get(display_text(key))
    return None if value is None else as_bytes(value)


def set_(bridge: Bridge, key: str | bytes, value: str | bytes) -> bool:
    host = bridge.host
    name, text = display_text(key), display_text(value)
    if not ENV.set(host.state, host.function_id, name, text):
        return False
    host.env[name] = text
    return True


def delete(bridge: Bridge, key: str | bytes) -> bool:
    host = bridge.host
    name = display_text(key)
    if not ENV.delete(host.state, host.function_id, name):
        return False
    host.env.pop(name, None)
    return True


MODULE = ModuleSpec(
    name="env",
    functions=(
        LuaFunction("get", get, ("string",)),
        LuaFunction("set", set_, ("string", "string")),
        LuaFunction("delete", delete, ("string",)),
    ),
)
