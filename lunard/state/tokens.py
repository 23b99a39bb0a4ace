"""API tokens (CLI, created by the device flow) and dashboard sessions, stored hashed.

Revoking a token and ending a session announce it (`runtime.announce`: `token:<hash>`,
`session:<hash>`; PostgreSQL only), for nodes that cache those checks.
"""

from __future__ import annotations

import time
from typing import Any

from lunard.credentials import sha256_hex
from lunard.ids import new_id
from lunard.state.dialect import Conn, Sql
from lunard.state.runtime import announce

_INSERT_TOKEN = Sql(
    "INSERT INTO api_tokens (id, token_hash, name, created_at) VALUES (?, ?, ?, ?)",
    "INSERT INTO api_tokens (id, token_hash, name, created_at) VALUES (%s, %s, %s, %s)",
)
_TOKENS = Sql(
    "SELECT * FROM api_tokens ORDER BY created_at DESC, rowid DESC",
    "SELECT * FROM api_tokens ORDER BY created_at DESC, seq DESC",
)
_REVOKE = Sql(
    "UPDATE api_tokens SET revoked = 1 WHERE id = ? RETURNING token_hash",
    "UPDATE api_tokens SET revoked = 1 WHERE id = %s RETURNING token_hash",
)
_USE = Sql(
    "UPDATE api_tokens SET last_used = ? WHERE token_hash = ? AND revoked = 0",
    "UPDATE api_tokens SET last_used = %s WHERE token_hash = %s AND revoked = 0",
)
_SWEEP_SESSIONS = Sql(
    "DELETE FROM sessions WHERE expires_at <= ?",
    "DELETE FROM sessions WHERE expires_at <= %s",
)
_INSERT_SESSION = Sql(
    "INSERT INTO sessions (token_hash, created_at, expires_at) VALUES (?, ?, ?)",
    "INSERT INTO sessions (token_hash, created_at, expires_at) VALUES (%s, %s, %s)",
)
_SESSION = Sql(
    "SELECT 1 FROM sessions WHERE token_hash = ? AND expires_at > ?",
    "SELECT 1 FROM sessions WHERE token_hash = %s AND expires_at > %s",
)
_DELETE_SESSION = Sql(
    "DELETE FROM sessions WHERE token_hash = ?",
    "DELETE FROM sessions WHERE token_hash = %s",
)


def token_json(row: Any) -> dict[str, Any]:
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


def create_token(conn: Conn, raw: str, name: str) -> str:
    """Store the SHA-256 of `raw` under a new id and return the id."""
    token_id = new_id()
    conn.execute(
        _INSERT_TOKEN.of(conn),
        (token_id, sha256_hex(raw), name, int(time.time())),
    )
    return token_id


def list_tokens(conn: Conn) -> list[dict[str, Any]]:
    """All tokens, revoked included, newest first."""
    rows = conn.execute(_TOKENS.of(conn))
    return [token_json(row) for row in rows]


def revoke_token(conn: Conn, token_id: str) -> bool:
    """Mark a token revoked (idempotent); False when the id is unknown."""
    rows = conn.execute(_REVOKE.of(conn), (token_id,)).fetchall()
    for row in rows:
        announce(conn, "token", row["token_hash"])
    return bool(rows)


def use_token(conn: Conn, raw: str) -> bool:
    """True if `raw` is a non-revoked token; records its `last_used`."""
    cur = conn.execute(
        _USE.of(conn),
        (int(time.time()), sha256_hex(raw)),
    )
    return cur.rowcount > 0


def create_session(conn: Conn, raw: str, ttl: int) -> None:
    """Remember a dashboard session (by hash) until now + ttl; sweep expired ones."""
    now = int(time.time())
    conn.execute(_SWEEP_SESSIONS.of(conn), (now,))
    conn.execute(
        _INSERT_SESSION.of(conn),
        (sha256_hex(raw), now, now + ttl),
    )


def session_valid(conn: Conn, raw: str) -> bool:
    """True while the session exists and has not expired."""
    row = conn.execute(_SESSION.of(conn), (sha256_hex(raw), int(time.time()))).fetchone()
    return row is not None


def delete_session(conn: Conn, raw: str) -> None:
    """End a dashboard session (logout)."""
    digest = sha256_hex(raw)
    if conn.execute(_DELETE_SESSION.of(conn), (digest,)).rowcount > 0:
        announce(conn, "session", digest)
