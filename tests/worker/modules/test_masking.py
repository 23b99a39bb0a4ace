"""Masking of stored data (lua-runtime §9, platform §5; §12 statements 125-130)."""

from __future__ import annotations

import json

from lunard.masking import (
    REDACTED,
    is_sensitive_field,
    mask_headers,
    mask_json_text,
    mask_log_message,
    mask_query,
    masked_event_json,
)


def test_s125_masking_headers() -> None:
    masked = mask_headers(
        {"Authorization": "Bearer secret_token_12345", "Content-Type": "application/json"}
    )
    assert masked == {"Authorization": REDACTED, "Content-Type": "application/json"}
    sensitive = [
        "Cookie",
        "X-API-Key",
        "X-Auth-Token",
        "X-Custom-Token",
        "X-Secret-Key",
        "X-Password",
    ]
    kept = ["Accept", "User-Agent", ""]
    masked = mask_headers({name: "v" for name in sensitive + kept})
    assert {name for name, value in masked.items() if value == REDACTED} == set(sensitive)
    assert all(masked[name] == "v" for name in kept)
    assert mask_headers({"X-Monkey": "m"}) == {"X-Monkey": REDACTED}


def test_s126_masking_query() -> None:
    assert mask_query({"api_key": "secret123", "limit": "10"}) == {
        "api_key": REDACTED,
        "limit": "10",
    }
    sensitive = ["access_token", "token", "secret", "password", "apikey"]
    kept = ["offset", "id", "user_id"]
    masked = mask_query({name: "v" for name in sensitive + kept})
    assert {name for name, value in masked.items() if value == REDACTED} == set(sensitive)


def test_s127_masking_json_body() -> None:
    assert (
        mask_json_text('{"username":"john","password":"secret123"}')
        == '{"password":"[REDACTED]","username":"john"}'
    )
    nested = mask_json_text(
        '{"user": {"name": "a", "api_key": {"x": 1}}, "list": [{"token": "t", "n": 1.0}]}'
    )
    assert nested == (
        '{"list":[{"n":1,"token":"[REDACTED]"}],"user":{"api_key":"[REDACTED]","name":"a"}}'
    )
    for text in ("plain text body", '{"invalid": json}', ""):
        assert mask_json_text(text) == text
    assert (
        mask_json_text('{"username":"john","email":"john@example.com"}')
        == '{"email":"john@example.com","username":"john"}'
    )


def test_s128_masking_body_field_names() -> None:
    for name in ("password", "secret", "api_key", "access_token", "private_key", "client_secret"):
        assert is_sensitive_field(name), name
    for name in ("auth_token", "Password", "credentials-x", "bearer"):
        assert is_sensitive_field(name), name
    for name in ("username", "email", "name", "completion_tokens", "passwords", "tokenize"):
        assert not is_sensitive_field(name), name


def test_s129_masking_stored_event() -> None:
    stored = masked_event_json(
        "POST",
        "/fn/abc/login",
        "/login",
        {"Authorization": "Bearer x", "Accept": "*/*"},
        {"token": "t", "page": "2"},
        '{"password":"p","user":"u"}',
    )
    assert stored == (
        '{"method":"POST","path":"/fn/abc/login","relativePath":"/login",'
        '"headers":{"Accept":"*/*","Authorization":"[REDACTED]"},'
        '"body":"{\\"password\\":\\"[REDACTED]\\",\\"user\\":\\"u\\"}",'
        '"query":{"page":"2","token":"[REDACTED]"}}'
    )
    event = json.loads(stored)
    assert list(event) == ["method", "path", "relativePath", "headers", "body", "query"]
    plain = json.loads(masked_event_json("GET", "/fn/a", "/", {}, {}, "a <b> & c"))
    assert plain == {
        "method": "GET",
        "path": "/fn/a",
        "relativePath": "/",
        "headers": {},
        "body": "a <b> & c",
        "query": {},
    }


def test_s130_masking_tracking_json() -> None:
    assert mask_json_text('{"api_key":"mysecret","messages":[]}') == (
        '{"api_key":"[REDACTED]","messages":[]}'
    )
    assert mask_json_text('{"api_key":"secret123","content":"Hello"}') == (
        '{"api_key":"[REDACTED]","content":"Hello"}'
    )


def test_masking_log_messages() -> None:
    assert mask_log_message("Authorization: Bearer abc123def456") == "Authorization: [REDACTED]"
    assert mask_log_message("User password: my_secret_password_123") == "User [REDACTED]"
    assert (
        mask_log_message("Using API key: sk_live_51234567890abcdefghij") == "Using API [REDACTED]"
    )
    assert mask_log_message("User logged in successfully") == "User logged in successfully"
    assert mask_log_message("") == ""
    assert mask_log_message("id AKIAIOSFODNN7EXAMPLE") == "id [REDACTED]"
    assert mask_log_message("token:short") == "token:short"


def test_masking_json_go_number_and_escaping() -> None:
    assert mask_json_text('{"n": 12345678901234567890, "f": 1e21, "s": "<&>"}') == (
        '{"f":1e+21,"n":12345678901234567000,"s":"\\u003c\\u0026\\u003e"}'
    )
    assert mask_json_text("[NaN]") == "[NaN]"
    assert mask_json_text(" 42 ") == "42"
