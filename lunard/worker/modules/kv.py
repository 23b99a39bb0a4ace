"""`kv` — persistent string key/value store (lua-runtime §6.2, incl. the [NEWER] globals).

Every call is one autocommit statement on the worker's state connection, namespaced by the
executing function's id; the shared global namespace is function_id ''. Store failures are
logged and swallowed like upstream: getters give nil, setters/deleters give false.
"""

from __future__ import annotations

from typing import Any

from lunard.state.kv import KeyValueTable
from lunard.worker.modules.bridge import Bridge, LuaFunction, ModuleSpec

GLOBAL_NAMESPACE = ""
KV = KeyValueTable("kv_store")


def _list_keys(bridge: Bridge, namespace: str) -> Any:
    items = KV.items(bridge.host.state, namespace)
    return None if items is None else bridge.table([key for key, _ in items])


def _all(bridge: Bridge, namespace: str) -> Any:
    items = KV.items(bridge.host.state, namespace)
    return None if items is None else bridge.table(dict(items))


def get(bridge: Bridge, key: str | bytes) -> bytes | None:
    return KV.get(bridge.host.state, bridge.host.function_id, key)


def set_(bridge: Bridge, key: str | bytes, value: str | bytes) -> bool:
    return KV.set(bridge.host.state, bridge.host.function_id, key, value)


def delete(bridge: Bridge, key: str | bytes) -> bool:
    return KV.delete(bridge.host.state, bridge.host.function_id, key)


def list_keys(bridge: Bridge) -> Any:
    return _list_keys(bridge, bridge.host.function_id)


def all_(bridge: Bridge) -> Any:
    return _all(bridge, bridge.host.function_id)


def get_global(bridge: Bridge, key: str | bytes) -> bytes | None:
    return KV.get(bridge.host.state, GLOBAL_NAMESPACE, key) if key else None


def set_global(bridge: Bridge, key: str | bytes, value: str | bytes) -> bool:
    return KV.set(bridge.host.state, GLOBAL_NAMESPACE, key, value) if key else False


def delete_global(bridge: Bridge, key: str | bytes) -> bool:
    return KV.delete(bridge.host.state, GLOBAL_NAMESPACE, key) if key else False


def list_global_keys(bridge: Bridge) -> Any:
    return _list_keys(bridge, GLOBAL_NAMESPACE)


def all_global(bridge: Bridge) -> Any:
    return _all(bridge, GLOBAL_NAMESPACE)


MODULE = ModuleSpec(
    name="kv",
    functions=(
        LuaFunction("get", get, ("string",)),
        LuaFunction("set", set_, ("string", "string")),
        LuaFunction("delete", delete, ("string",)),
        LuaFunction("listKeys", list_keys),
        LuaFunction("all", all_),
        LuaFunction("getGlobal", get_global, ("string",)),
        LuaFunction("setGlobal", set_global, ("string", "string")),
        LuaFunction("deleteGlobal", delete_global, ("string",)),
        LuaFunction("listGlobalKeys", list_global_keys),
        LuaFunction("allGlobal", all_global),
    ),
)
