"""Identifiers in upstream's formats: xid-style ids, version ids, user codes, raw tokens."""

from __future__ import annotations

import hashlib
import secrets
import time

_BASE32HEX = "0123456789abcdefghijklmnopqrstuv"
USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_id(now: float | None = None) -> str:
    """A 20-character, time-ordered id in xid's alphabet and layout (12 bytes, base32hex).

    Bytes: 4 of Unix seconds, 3 of microseconds within the second, 5 random. Ids made at
    different microseconds sort in creation order (also across processes), and the random
    tail makes collisions negligible without any process-wide counter.
    """
    moment = time.time() if now is None else now
    seconds = int(moment)
    micros = min(int((moment - seconds) * 1_000_000), 999_999)
    raw = (seconds & 0xFFFFFFFF).to_bytes(4, "big") + micros.to_bytes(3, "big")
    raw += secrets.token_bytes(5)
    # 96 bits -> 20 base32 characters (100 bits); like xid, the 4 spare bits pad the end.
    value = int.from_bytes(raw, "big") << 4
    chars = [_BASE32HEX[(value >> (5 * i)) & 0x1F] for i in range(19, -1, -1)]
    return "".join(chars)


def version_id(function_id: str, number: int) -> str:
    """Upstream's deterministic version id `ver_<function_id>_v<n>`."""
    return f"ver_{function_id}_v{number}"


def new_user_code() -> str:
    """Eight characters from the unambiguous alphabet (no I, O, 0, 1), no hyphen."""
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))


def new_raw_token() -> str:
    """32 random bytes as 64 lowercase hex characters (API tokens, generated admin keys)."""
    return secrets.token_hex(32)


def sha256_hex(value: str) -> str:
    """Lowercase hex SHA-256, how API tokens and sessions are stored."""
    return hashlib.sha256(value.encode()).hexdigest()
