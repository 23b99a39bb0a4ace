"""API tokens (CLI, created by the device flow) and dashboard sessions, stored hashed."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from lunard.ids import new_id, sha256_hex


def token_json(row: sqlite3.Row) -> dict[str, Any]:
    """Public shape of a token: the hash is never serialised; `last_used` omitted if never."""
    data: dict[str, Any] = {
        "id": row["id"],
        "name": row["name"],
        "created_at": row["created_at"],
        "revoked": bool(row["revoked"]),
    }
    if row["last_used"] is not None:
        data["last_used"] = row["last_used"]
    return data


def create_token(conn: sqlite3.Connection, raw: str, name: str) -> str:
    """Store the SHA-256 of `raw` under a new id and return the id."""
    token_id = new_id()
    conn.execute(
        "INSERT INTO api_tokens (id, token_hash, name, created_at) VALUES (?, ?, ?, ?)",
        (token_id, sha256_hex(raw), name, int(time.time())),
    )
    return token_id


def list_tokens(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """All tokens, revoked included, newest first."""
    rows = conn.execute("SELECT * FROM api_tokens ORDER BY created_at DESC, rowid DESC")
    return [token_json(row) for row in rows]


def revoke_token(conn: sqlite3.Connection, token_id: str) -> bool:
    """Mark a token revoked (idempotent); False when the id is unknown."""
    cur = conn.execute("UPDATE api_tokens SET revoked = 1 WHERE id = ?", (token_id,))
    return cur.rowcount > 0


def use_token(conn: sqlite3.Connection, raw: str) -> bool:
    """True if `raw` is a non-revoked token; records its `last_used`."""
    cur = conn.execute(
        "UPDATE api_tokens SET last_used = ? WHERE token_hash = ? AND revoked = 0",
        (int(time.time()), sha256_hex(raw)),
    )
    return cur.rowcount > 0


def create_session(conn: sqlite3.Connection, raw: str, ttl: int) -> None:
    """Remember a dashboard session (by hash) until now + ttl; sweep expired ones."""
    now = int(time.time())
    conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
    conn.execute(
        "INSERT INTO sessions (token_hash, created_at, expires_at) VALUES (?, ?, ?)",
        (sha256_hex(raw), now, now + ttl),
    )


def session_valid(conn: sqlite3.Connection, raw: str) -> bool:
    """True while the session exists and has not expired."""
    row = conn.execute(
        "SELECT 1 FROM sessions WHERE token_hash = ? AND expires_at > ?",
        (sha256_hex(raw), int(time.time())),
    ).fetchone()
    return row is not None


def delete_session(conn: sqlite3.Connection, raw: str) -> None:
    conn.execute("DELETE FROM sessions WHERE token_hash = ?", (sha256_hex(raw),))
