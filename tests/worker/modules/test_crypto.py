"""crypto module (lua-runtime §6.7, §12 statements 57-60)."""

from __future__ import annotations

import hashlib
import re

from tests.worker.modules.conftest import Execution


def test_s57_crypto_sha256(lua: Execution) -> None:
    assert (
        lua.run('return crypto.sha256("password")')
        == "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
    )


def test_s58_crypto_hashes(lua: Execution) -> None:
    assert lua.run(
        'return crypto.md5(""), crypto.md5("hello"), crypto.sha1("hello"), '
        'crypto.sha256("hello"), #crypto.sha512("hello")'
    ) == (
        "d41d8cd98f00b204e9800998ecf8427e",
        "5d41402abc4b2a76b9719d911017c592",
        "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d",
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        128,
    )


def test_s59_crypto_hmac_message_first(lua: Execution) -> None:
    assert lua.run(
        'return crypto.hmac_sha256("hello", "secret"), crypto.hmac_sha1("hello", "secret"), '
        '#crypto.hmac_sha256("{\\"a\\":1}", "secret-key"), #crypto.hmac_sha512("hello", "secret")'
    ) == (
        "88aab3ede8d3adf94d26ab90d3bafd4a2083070c3bcce9c014ee04a443847c0b",
        "5112055c05f944f85755efc5cd8970e194e9f45b",
        64,
        128,
    )


def test_s60_crypto_uuid_v4(lua: Execution) -> None:
    values = lua.run("local t = {} for i = 1, 100 do t[i] = crypto.uuid() end return t")
    pattern = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
    assert len(values) == 100
    assert all(pattern.match(v) for v in values)
    assert len(set(values)) == 100


def test_crypto_binary_input_and_checks(lua: Execution) -> None:
    assert lua.run(r'return crypto.md5("\255\0")') == hashlib.md5(b"\xff\x00").hexdigest()
    assert "bad argument #2 to 'hmac_sha1' (string expected, got nil)" in lua.error_of(
        'crypto.hmac_sha1("m")'
    )
