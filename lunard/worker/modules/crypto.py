"""`crypto` — hashes, HMACs (message first, key second) and UUID v4 (lua-runtime §6.7).

All results are lower-case hex (UUID in its usual 36-character form); inputs are raw bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable

from lunard.worker.modules.bridge import Bridge, LuaFunction, ModuleSpec, as_bytes

_HASHES = ("md5", "sha1", "sha256", "sha512")


def _digest(algorithm: str) -> Callable[[Bridge, str | bytes], bytes]:
    def run(bridge: Bridge, value: str | bytes) -> bytes:
        return hashlib.new(algorithm, as_bytes(value)).hexdigest().encode()

    return run


def _hmac(algorithm: str) -> Callable[[Bridge, str | bytes, str | bytes], bytes]:
    def run(bridge: Bridge, message: str | bytes, key: str | bytes) -> bytes:
        return hmac.new(as_bytes(key), as_bytes(message), algorithm).hexdigest().encode()

    return run


def new_uuid(bridge: Bridge) -> bytes:
    return str(uuid.uuid4()).encode()


MODULE = ModuleSpec(
    name="crypto",
    functions=(
        *(LuaFunction(name, _digest(name), ("string",)) for name in _HASHES),
        *(
            LuaFunction(f"hmac_{name}", _hmac(name), ("string", "string"))
            for name in ("sha1", "sha256", "sha512")
        ),
        LuaFunction("uuid", new_uuid),
    ),
)
