"""The SQL of the `kv_store` and `env_vars` tables as the worker's `kv` and `env` modules
use them: one autocommit statement per call on the worker's own state connection.

Lua strings are bytes: a value is stored as TEXT when it is valid UTF-8 (what the API and
the dashboard show) and as a BLOB otherwise, and always read back as bytes. Store failures
are logged and answered as None/False, for the modules to pass on like upstream.
"""

from __future__ import annotations

import logging
import sqlite3

log = logging.getLogger(__name__)


def _as_bytes(value: str | bytes) -> bytes:
    """Text that lupa decoded (invalid bytes as surrogate escapes) back to its bytes."""
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")


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
        return None if row is None else _as_bytes(row[0])

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
        return [(_as_bytes(row[0]), _as_bytes(row[1])) for row in rows]
