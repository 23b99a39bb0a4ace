"""Device-flow requests in the `device_requests` table (http-api §2.6, DECISIONS 9,
scale-out design §5.4), on both backends: every node on one database sees the same codes.

A CLI asks for a device code, a signed-in user allows or denies it, and the CLI polls until
it collects its API token. Lifecycle of one row::

    pending --approve--> approved --collect--> approved (collected)
       `--deny--> denied

- The device code is stored only as its SHA-256 (`device_code_hash`); `user_code` is unique.
- Every transition is one conditional `UPDATE … WHERE status = 'pending' AND claimed = 0
  AND expires_at > now` (or `status = 'approved' AND collected = 0` to collect). The
  database decides which of two racing nodes wins: on PostgreSQL the loser waits for the
  row lock and re-checks the condition on the committed row (READ COMMITTED), on SQLite
  `BEGIN IMMEDIATE` serialises the writers. So a code is decided once and collected once.
- **No raw token is ever stored.** Approval only marks the row approved; `collect` creates
  the API-token row `CLI (<user_code>)` and marks the row collected in the caller's one
  transaction, and returns the raw token. If creating the token fails, the caller's
  transaction rolls both back and the CLI can poll again.
- Expired rows are invisible to every function here and deleted by `create` (sweep).
- `claimed` is never set here: each transition is a single statement, so nothing has to be
  held between two. The conditions still require it to be 0, as the table defines it.

Every function takes the connection (inside the caller's transaction, `StateStore.call`)
and `now` in Unix seconds. Trio-free.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from enum import StrEnum

from lunard.credentials import new_raw_token, new_user_code, sha256_hex
from lunard.ids import new_id
from lunard.state import tokens
from lunard.state.dialect import Conn, Sql
from lunard.state.errors import StateError

# A fresh user code collides with a live one with odds of about (live codes) / 32**8;
# a few redraws make a failure practically impossible.
USER_CODE_ATTEMPTS = 8


class DeviceStatus(StrEnum):
    """Public statuses of a device request (expiry is not a status: it is a 404)."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


class TokenNotCreated(StateError):
    """The API-token row of a collection could not be written (the collection is undone)."""


@dataclass(frozen=True, slots=True)
class DeviceRequest:
    """One live device request as the API shows it (`device_code` is the caller's raw code)."""

    device_code: str
    user_code: str
    status: DeviceStatus
    created_at: int
    expires_at: int
    collected: bool = False


@dataclass(frozen=True, slots=True)
class Poll:
    """What a collection attempt found: no live request (`request` None), the request as it
    is (nothing collected: pending, denied, or approved and already collected), or the
    request just collected with its raw `token` (handed out this once)."""

    request: DeviceRequest | None
    token: str | None = None


_SWEEP = Sql(
    "DELETE FROM device_requests WHERE expires_at <= ?",
    "DELETE FROM device_requests WHERE expires_at <= %s",
)
_INSERT = Sql(
    "INSERT INTO device_requests (device_code_hash, user_code, created_at, expires_at) "
    "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
    "INSERT INTO device_requests (device_code_hash, user_code, created_at, expires_at) "
    "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
)
_GET = Sql(
    "SELECT user_code, status, collected, created_at, expires_at FROM device_requests "
    "WHERE device_code_hash = ? AND expires_at > ?",
    "SELECT user_code, status, collected, created_at, expires_at FROM device_requests "
    "WHERE device_code_hash = %s AND expires_at > %s",
)
_DECIDE = Sql(
    "UPDATE device_requests SET status = ? WHERE device_code_hash = ? "
    "AND status = 'pending' AND claimed = 0 AND expires_at > ?",
    "UPDATE device_requests SET status = %s WHERE device_code_hash = %s "
    "AND status = 'pending' AND claimed = 0 AND expires_at > %s",
)
_COLLECT = Sql(
    "UPDATE device_requests SET collected = 1 WHERE device_code_hash = ? "
    "AND status = 'approved' AND collected = 0 AND claimed = 0 AND expires_at > ? "
    "RETURNING user_code, created_at, expires_at",
    "UPDATE device_requests SET collected = 1 WHERE device_code_hash = %s "
    "AND status = 'approved' AND collected = 0 AND claimed = 0 AND expires_at > %s "
    "RETURNING user_code, created_at, expires_at",
)


def token_name(user_code: str) -> str:
    """The name of the API token a device code's collection creates."""
    return f"CLI ({user_code})"


def create(conn: Conn, now: int, ttl: int) -> DeviceRequest:
    """Sweep expired rows, then store a new pending request live until `now + ttl`."""
    conn.execute(_SWEEP.of(conn), (now,))
    device_code = new_id(now)
    for _ in range(USER_CODE_ATTEMPTS):
        user_code = new_user_code()
        cur = conn.execute(_INSERT.of(conn), (sha256_hex(device_code), user_code, now, now + ttl))
        if cur.rowcount > 0:
            return DeviceRequest(device_code, user_code, DeviceStatus.PENDING, now, now + ttl)
    raise StateError(f"no free user code after {USER_CODE_ATTEMPTS} attempts")


def get(conn: Conn, device_code: str, now: int) -> DeviceRequest | None:
    """The live request for `device_code`, or None if unknown or expired."""
    row = conn.execute(_GET.of(conn), (sha256_hex(device_code), now)).fetchone()
    if row is None:
        return None
    return DeviceRequest(
        device_code=device_code,
        user_code=row["user_code"],
        status=DeviceStatus(row["status"]),
        created_at=int(row["created_at"]),
        expires_at=int(row["expires_at"]),
        collected=bool(row["collected"]),
    )


def _decide(conn: Conn, device_code: str, now: int, status: DeviceStatus) -> bool:
    cur = conn.execute(_DECIDE.of(conn), (str(status), sha256_hex(device_code), now))
    return cur.rowcount > 0


def approve(conn: Conn, device_code: str, now: int) -> bool:
    """Mark a pending request approved (no token yet); False if unknown, expired or decided."""
    return _decide(conn, device_code, now, DeviceStatus.APPROVED)


def deny(conn: Conn, device_code: str, now: int) -> bool:
    """Mark a pending request denied; False if unknown, expired or already decided."""
    return _decide(conn, device_code, now, DeviceStatus.DENIED)


def collect(conn: Conn, device_code: str, now: int) -> Poll:
    """Collect an approved request's token: mark it collected and create its API-token row,
    both in the caller's transaction (`TokenNotCreated` when the token row cannot be
    written: the caller's transaction then rolls both back). Anything else
    (pending, denied, already collected, unknown, expired) is reported unchanged."""
    rows = conn.execute(_COLLECT.of(conn), (sha256_hex(device_code), now)).fetchall()
    if not rows:
        return Poll(get(conn, device_code, now))
    row = rows[0]
    raw = new_raw_token()
    try:
        tokens.create_token(conn, raw, token_name(row["user_code"]))
    except (StateError, sqlite3.Error) as exc:  # sqlite3's errors are not wrapped in here
        raise TokenNotCreated(f"cannot create the API token: {exc}") from exc
    request = DeviceRequest(
        device_code=device_code,
        user_code=row["user_code"],
        status=DeviceStatus.APPROVED,
        created_at=int(row["created_at"]),
        expires_at=int(row["expires_at"]),
        collected=True,
    )
    return Poll(request, raw)
