"""Authentication, login and logout (http-api §2, §5.1–5.2; statements 5–12; DECISIONS 7)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from quart_trio import QuartTrio

from lunard.config import Config
from lunard.credentials import new_raw_token, sha256_hex
from lunard.http.app import create_app
from lunard.http.deps import AppDeps, Readiness
from lunard.http.device_auth import DeviceAuthStore
from lunard.state import StateStore, connect
from lunard.state import tokens as token_store
from tests.daemon import Daemon

AUTH_REQUIRED = {"error": "Authentication required"}


def _state(daemon: Daemon) -> sqlite3.Connection:
    return connect(daemon.data_dir / "lunard.db")


def _insert_token(daemon: Daemon) -> str:
    """A token row written straight into storage, as upstream's test does; returns raw."""
    raw = new_raw_token()
    conn = _state(daemon)
    try:
        token_store.create_token(conn, raw, "direct")
    finally:
        conn.close()
    return raw


def _cookie_client(daemon: Daemon, value: str) -> httpx.Client:
    client = daemon.client(auth=False)
    client.cookies.set("auth_token", value)
    return client


def _set_cookie_attrs(response: httpx.Response) -> dict[str, str]:
    """The attributes of the single `auth_token` Set-Cookie, lower-cased names."""
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith("auth_token=")]
    assert len(headers) == 1, headers
    parts = [p.strip() for p in headers[0].split(";")]
    attrs = {"value": parts[0].partition("=")[2]}
    for part in parts[1:]:
        name, _, value = part.partition("=")
        attrs[name.lower()] = value
    return attrs


def test_s5_no_credentials_is_401(anon: httpx.Client) -> None:
    response = anon.get("/api/tokens")
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == AUTH_REQUIRED


def test_s6_bearer_admin_key_is_200(api: httpx.Client) -> None:
    assert api.get("/api/tokens").status_code == 200


def test_s7_cookie_with_admin_key_is_200(daemon: Daemon) -> None:
    with _cookie_client(daemon, daemon.api_key) as client:
        assert client.get("/api/tokens").status_code == 200


def test_s8_bearer_invalid_token_is_401(anon: httpx.Client) -> None:
    response = anon.get("/api/tokens", headers={"Authorization": "Bearer invalid-token"})
    assert response.status_code == 401
    assert response.json() == AUTH_REQUIRED


def test_bearer_scheme_is_case_sensitive_and_needs_a_credential(
    daemon: Daemon, anon: httpx.Client
) -> None:
    for header in (f"bearer {daemon.api_key}", f"Basic {daemon.api_key}", "Bearer"):
        assert anon.get("/api/tokens", headers={"Authorization": header}).status_code == 401


def test_s9_token_row_created_in_storage_authenticates(daemon: Daemon, anon: httpx.Client) -> None:
    raw = _insert_token(daemon)
    response = anon.get("/api/tokens", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200


def test_api_token_is_not_accepted_as_cookie(daemon: Daemon) -> None:
    raw = _insert_token(daemon)
    with _cookie_client(daemon, raw) as client:
        assert client.get("/api/tokens").status_code == 401


def test_invalid_cookie_falls_through_to_bearer(daemon: Daemon) -> None:
    with _cookie_client(daemon, "not-a-session") as client:
        assert client.get("/api/tokens").status_code == 401
        headers = {"Authorization": f"Bearer {daemon.api_key}"}
        assert client.get("/api/tokens", headers=headers).status_code == 200


def test_s10_login_sets_session_cookie(daemon: Daemon, anon: httpx.Client) -> None:
    response = anon.post("/api/auth/login", json={"apiKey": daemon.api_key})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"success": True}
    attrs = _set_cookie_attrs(response)
    assert attrs["max-age"] == "86400"
    assert attrs["path"] == "/"
    assert attrs["samesite"] == "Strict"
    assert "httponly" in attrs
    assert "secure" not in attrs  # plain HTTP


def test_login_cookie_is_an_opaque_session_not_the_key(daemon: Daemon) -> None:
    """DECISIONS 7: the cookie holds a random session token whose hash is stored."""
    with daemon.client(auth=False) as client:
        response = client.post("/api/auth/login", json={"apiKey": daemon.api_key})
        session = _set_cookie_attrs(response)["value"]
        assert session != daemon.api_key
        assert len(session) == 64
        conn = _state(daemon)
        try:
            row = conn.execute(
                "SELECT created_at, expires_at FROM sessions WHERE token_hash = ?",
                (sha256_hex(session),),
            ).fetchone()
        finally:
            conn.close()
        assert row is not None
        assert row["expires_at"] - row["created_at"] == 86400
        # The client keeps the cookie: the session authenticates protected routes.
        assert client.get("/api/tokens").status_code == 200


def test_s11_login_wrong_key_is_401(anon: httpx.Client) -> None:
    for body in ({"apiKey": "wrong"}, {"apiKey": ""}, {}, {"apiKey": None}):
        response = anon.post("/api/auth/login", json=body)
        assert response.status_code == 401, body
        assert response.json() == {"success": False, "error": "Invalid API key"}
        assert "set-cookie" not in response.headers


def test_s11_login_malformed_body_is_400(anon: httpx.Client) -> None:
    bodies = [b"", b"{not json", b"[]", b'"apiKey"', b'{"apiKey": 42}', b"\xff\xfe"]
    for body in bodies:
        response = anon.post("/api/auth/login", content=body)
        assert response.status_code == 400, body
        assert response.json() == {"success": False, "error": "Invalid request body"}


def test_login_rejects_api_tokens(daemon: Daemon, anon: httpx.Client) -> None:
    raw = _insert_token(daemon)
    response = anon.post("/api/auth/login", json={"apiKey": raw})
    assert response.status_code == 401
    assert response.json() == {"success": False, "error": "Invalid API key"}


def test_s12_logout_clears_cookie(anon: httpx.Client) -> None:
    response = anon.post("/api/auth/logout")
    assert response.status_code == 200
    assert response.json() == {"success": True}
    attrs = _set_cookie_attrs(response)
    assert attrs["value"] == ""
    assert attrs["max-age"] == "0"
    assert attrs["path"] == "/"
    assert "httponly" in attrs


def test_logout_ends_the_session(daemon: Daemon) -> None:
    with daemon.client(auth=False) as client:
        client.post("/api/auth/login", json={"apiKey": daemon.api_key})
        session = client.cookies["auth_token"]
        assert client.get("/api/tokens").status_code == 200
        assert client.post("/api/auth/logout").status_code == 200
    # The old cookie value no longer authenticates, even if a client kept it.
    with _cookie_client(daemon, session) as replay:
        assert replay.get("/api/tokens").status_code == 401


def test_logout_needs_no_body_and_ignores_garbage(anon: httpx.Client) -> None:
    response = anon.post("/api/auth/logout", content=b"{garbage")
    assert response.status_code == 200
    assert response.json() == {"success": True}


@pytest.fixture
def in_process_app(tmp_path: Path) -> Iterator[tuple[QuartTrio, StateStore]]:
    """The app without a socket, for what a loopback HTTP client cannot send (TLS scheme)."""
    state = StateStore.open(tmp_path)
    app_deps = AppDeps(
        config=Config(data_dir=tmp_path),
        state=state,
        api_key="in-process-key",
        readiness=Readiness(),
        device_auth=DeviceAuthStore(),
    )
    yield create_app(app_deps), state
    state.close()


async def test_login_over_tls_sets_secure_cookie(
    in_process_app: tuple[QuartTrio, StateStore],
) -> None:
    app, _ = in_process_app
    client = app.test_client()
    secure = await client.post("/api/auth/login", json={"apiKey": "in-process-key"}, scheme="https")
    assert secure.status_code == 200
    assert "Secure" in secure.headers["Set-Cookie"]
    plain = await client.post("/api/auth/login", json={"apiKey": "in-process-key"})
    assert "Secure" not in plain.headers["Set-Cookie"]
