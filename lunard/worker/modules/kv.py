"""`kv` — persistent string key/value store (lua-runtime §6.2, incl. the [NEWER] globals).

Every call is one autocommit statement on the worker's state connection, namespaced by the
executing function's id; the shared global namespace is function_id ''. Store failures are
logged and swallowed like upstream: getters give nil, setters/deleters give false.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from lunard.worker.modules.bridge import Bridge, LuaFunction, ModuleSpec, as_bytes

log = logging.getLogger(__name__)

GLOBAL_NAMESPACE = ""


def db_text(value: str | bytes) -> str | bytes:
    """A Lua string for SQLite: text when it is valid UTF-8, otherwise the raw bytes.

    Keys are converted the same way on every call, so lookups always compare like with like.
    """
    if isinstance(value, str):
        # Text from a decoding runtime: invalid bytes arrive as surrogate escapes.
        return value if value.isascii() or _is_valid_text(value) else as_bytes(value)
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value


def _is_valid_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class KeyValueTable:
    """The SQL behind `kv` and `env`: one table keyed by (function_id, key)."""

    def __init__(self, table: str) -> None:
        self.table = table
        self._get = f"SELECT value FROM {table} WHERE function_id = ? AND key = ?"
        self._set = (
            f"INSERT INTO {table} (function_id, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT (function_id, key) DO UPDATE SET value = excluded.value"
        )
        self._delete = f"DELETE FROM {table} WHERE function_id = ? AND key = ?"
        self._list = f"SELECT key, value FROM {table} WHERE function_id = ?"

    def get(self, conn: sqlite3.Connection, namespace: str, key: str | bytes) -> bytes | None:
        """The value, or None when missing or on a store error."""
        try:
            row = conn.execute(self._get, (namespace, db_text(key))).fetchone()
        except sqlite3.Error:
            log.exception("%s get failed (namespace %r)", self.table, namespace)
            return None
        return None if row is None else as_bytes(row[0])

    def set(
        self, conn: sqlite3.Connection, namespace: str, key: str | bytes, value: str | bytes
    ) -> bool:
        """Upsert; False on a store error."""
        try:
            conn.execute(self._set, (namespace, db_text(key), db_text(value)))
        except sqlite3.Error:
            log.exception("%s set failed (namespace %r)", self.table, namespace)
            return False
        return True

    def delete(self, conn: sqlite3.Connection, namespace: str, key: str | bytes) -> bool:
        """Delete (a missing key is fine); False on a store error."""
        try:
            conn.execute(self._delete, (namespace, db_text(key)))
        except sqlite3.Error:
            log.exception("%s delete failed (namespace %r)", self.table, namespace)
            return False
        return True

    def items(self, conn: sqlite3.Connection, namespace: str) -> list[tuple[bytes, bytes]] | None:
        """Every (key, value) of the namespace; None on a store error."""
        try:
            rows = conn.execute(self._list, (namespace,)).fetchall()
        except sqlite3.Error:
            log.exception("%s list failed (namespace %r)", self.table, namespace)
            return None
        return [(as_bytes(row[0]), as_bytes(row[1])) for row in rows]


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
