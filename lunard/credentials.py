"""Random credentials and how they are stored: device user codes, raw API tokens, SHA-256."""

from __future__ import annotations

import hashlib
import secrets

USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_user_code() -> str:
    """Eight characters from the unambiguous alphabet (no I, O, 0, 1), no hyphen."""
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))


def new_raw_token() -> str:
    """32 random bytes as 64 lowercase hex characters (API tokens, generated admin keys)."""
    return secrets.token_hex(32)


def sha256_hex(value: str) -> str:
    """Lowercase hex SHA-256, how API tokens and sessions are stored."""
    return hashlib.sha256(value.encode()).hexdigest()
