"""The SQL of the `kv_store` and `env_vars` tables as the worker's `kv` and `env` modules
use them: one autocommit statement per call on the worker's own state connection.

Lua strings are bytes. On SQLite a value is stored as TEXT when it is valid UTF-8 (what the
API and the dashboard show) and as a BLOB otherwise; on PostgreSQL keys and values are
BYTEA, stored exactly. Either way they are read back as bytes. The SQL is written once per
dialect (`Sql`). Store failures are logged and answered as None/False, for the modules to
pass on like upstream.
"""

from __future__ import annotations

import logging
import sqlite3

from lunard.state.dialect import Conn, Sql, as_bytes, is_postgres
from lunard.state.errors import StateError
from lunard.state.runtime import announce

log = logging.getLogger(__name__)


# What a failing statement raises: sqlite3's own errors, or StateError from `PgConn`.
STORE_ERRORS = (sqlite3.Error, StateError)
_as_bytes = as_bytes


def db_text(value: str | bytes) -> str | bytes:
    """A Lua string for SQLite: text when it is valid UTF-8, otherwise the raw bytes.

    Keys are converted the same way on every call, so lookups always compare like with like.
    """
    if isinstance(value, str):
        # Text from a decoding runtime: invalid bytes arrive as surrogate escapes.
        return value if value.isascii() or _is_valid_text(value) else _as_bytes(value)
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


def _key(conn: Conn, value: str | bytes) -> str | bytes:
    """A key or value for the connection's table: `db_text` on SQLite, the bytes on PG."""
    return _as_bytes(value) if is_postgres(conn) else db_text(value)


class KeyValueTable:
    """The SQL behind `kv` and `env`: one table keyed by (function_id, key)."""

    def __init__(self, table: str, *, announce_function: bool = False) -> None:
        self.table = table
        # env values are part of what /fn caches per function: a change is announced to every
        # node (PostgreSQL only; the worker's connection is autocommit, so it goes out at once).
        self._announce = announce_function
        self._get = Sql(
            f"SELECT value FROM {table} WHERE function_id = ? AND key = ?",
            f"SELECT value FROM {table} WHERE function_id = %s AND key = %s",
        )
        self._set = Sql(
            f"INSERT INTO {table} (function_id, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT (function_id, key) DO UPDATE SET value = excluded.value",
            f"INSERT INTO {table} (function_id, key, value) VALUES (%s, %s, %s) "
            "ON CONFLICT (function_id, key) DO UPDATE SET value = excluded.value",
        )
        self._delete = Sql(
            f"DELETE FROM {table} WHERE function_id = ? AND key = ?",
            f"DELETE FROM {table} WHERE function_id = %s AND key = %s",
        )
        self._list = Sql(
            f"SELECT key, value FROM {table} WHERE function_id = ?",
            f"SELECT key, value FROM {table} WHERE function_id = %s ORDER BY key",
        )

    def get(self, conn: Conn, namespace: str, key: str | bytes) -> bytes | None:
        """The value, or None when missing or on a store error."""
        try:
            row = conn.execute(self._get.of(conn), (namespace, _key(conn, key))).fetchone()
        except STORE_ERRORS:
            log.exception("%s get failed (namespace %r)", self.table, namespace)
            return None
        return None if row is None else _as_bytes(row[0])

    def set(self, conn: Conn, namespace: str, key: str | bytes, value: str | bytes) -> bool:
        """Upsert; False on a store error."""
        try:
            conn.execute(self._set.of(conn), (namespace, _key(conn, key), _key(conn, value)))
            if self._announce:
                announce(conn, "function", namespace)
        except STORE_ERRORS:
            log.exception("%s set failed (namespace %r)", self.table, namespace)
            return False
        return True

    def delete(self, conn: Conn, namespace: str, key: str | bytes) -> bool:
        """Delete (a missing key is fine); False on a store error."""
        try:
            conn.execute(self._delete.of(conn), (namespace, _key(conn, key)))
            if self._announce:
                announce(conn, "function", namespace)
        except STORE_ERRORS:
            log.exception("%s delete failed (namespace %r)", self.table, namespace)
            return False
        return True

    def items(self, conn: Conn, namespace: str) -> list[tuple[bytes, bytes]] | None:
        """Every (key, value) of the namespace; None on a store error."""
        try:
            rows = conn.execute(self._list.of(conn), (namespace,)).fetchall()
        except STORE_ERRORS:
            log.exception("%s list failed (namespace %r)", self.table, namespace)
            return None
        return [(_as_bytes(row[0]), _as_bytes(row[1])) for row in rows]
