"""Identifiers in upstream's formats: xid-style ids and version ids.

Workers make ids too, so this imports neither `secrets` nor `hashlib` (with them comes
OpenSSL's libcrypto, ~3.5 MiB of RSS per worker): the random bytes are `os.urandom`'s,
which is what `secrets.token_bytes` returns. Credentials are in `lunard.credentials`.
"""

from __future__ import annotations

import os
import time

_BASE32HEX = "0123456789abcdefghijklmnopqrstuv"


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
    raw += os.urandom(5)
    # 96 bits -> 20 base32 characters (100 bits); like xid, the 4 spare bits pad the end.
    value = int.from_bytes(raw, "big") << 4
    chars = [_BASE32HEX[(value >> (5 * i)) & 0x1F] for i in range(19, -1, -1)]
    return "".join(chars)


def version_id(function_id: str, number: int) -> str:
    """Upstream's deterministic version id `ver_<function_id>_v<n>`."""
    return f"ver_{function_id}_v{number}"
