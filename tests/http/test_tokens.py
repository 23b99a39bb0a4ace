"""API token listing and revocation (http-api §2.5, §5.7–5.8; statements 23–27)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.daemon import Daemon, start_daemon


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Daemon]:
    """A daemon of its own, for statements about a fresh server's token table."""
    d = start_daemon(tmp_path / "data")
    yield d
    d.stop()


def issue_token(api: httpx.Client, anon: httpx.Client) -> tuple[str, str]:
    """Run the device flow to its end; returns (raw token, user code)."""
    body = anon.post("/api/auth/device-request").json()
    code = body["device_code"]
    response = api.post("/api/auth/device-approve", json={"device_code": code, "action": "allow"})
    assert response.status_code == 200
    token = anon.get("/api/auth/device-token", params={"code": code}).json()["token"]
    return token, body["user_code"]


def find(api: httpx.Client, name: str) -> dict[str, object]:
    tokens = [t for t in api.get("/api/tokens").json()["tokens"] if t["name"] == name]
    assert len(tokens) == 1
    token: dict[str, object] = tokens[0]
    return token


def test_s23_fresh_server_has_no_tokens(fresh: Daemon) -> None:
    with fresh.client() as api:
        response = api.get("/api/tokens")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"tokens": []}


def test_s24_one_approval_lists_one_token(fresh: Daemon) -> None:
    with fresh.client() as api, fresh.client(auth=False) as anon:
        before = int(time.time())
        _, user_code = issue_token(api, anon)
        tokens = api.get("/api/tokens").json()["tokens"]
    assert len(tokens) == 1
    token = tokens[0]
    assert set(token) == {"id", "name", "created_at", "revoked"}  # no hash, no last_used
    assert token["name"] == f"CLI ({user_code})"
    assert token["revoked"] is False
    assert before <= token["created_at"] <= int(time.time())
    assert token["id"]


def test_tokens_are_listed_newest_first(api: httpx.Client, anon: httpx.Client) -> None:
    names = [f"CLI ({issue_token(api, anon)[1]})" for _ in range(3)]
    listed = [t["name"] for t in api.get("/api/tokens").json()["tokens"]]
    assert listed[:3] == names[::-1]


def test_s25_revoked_token_fails_auth_and_stays_listed(
    api: httpx.Client, anon: httpx.Client
) -> None:
    raw, user_code = issue_token(api, anon)
    bearer = {"Authorization": f"Bearer {raw}"}
    assert anon.get("/api/tokens", headers=bearer).status_code == 200
    token_id = find(api, f"CLI ({user_code})")["id"]
    response = api.post(f"/api/tokens/{token_id}/revoke")
    assert response.status_code == 200
    assert response.json() == {"success": True}
    denied = anon.get("/api/tokens", headers=bearer)
    assert denied.status_code == 401
    assert denied.json() == {"error": "Authentication required"}
    assert find(api, f"CLI ({user_code})")["revoked"] is True
    # Revoking again succeeds (idempotent) and changes nothing.
    assert api.post(f"/api/tokens/{token_id}/revoke").json() == {"success": True}
    assert find(api, f"CLI ({user_code})")["revoked"] is True


def test_s26_revoking_unknown_token_is_404(api: httpx.Client) -> None:
    response = api.post("/api/tokens/nonexistent/revoke")
    assert response.status_code == 404
    assert response.json() == {"error": "Token not found"}


def test_token_routes_need_auth(anon: httpx.Client) -> None:
    assert anon.get("/api/tokens").status_code == 401
    assert anon.post("/api/tokens/nonexistent/revoke").status_code == 401


def test_api_token_can_revoke_itself(api: httpx.Client, anon: httpx.Client) -> None:
    raw, user_code = issue_token(api, anon)
    bearer = {"Authorization": f"Bearer {raw}"}
    token_id = find(api, f"CLI ({user_code})")["id"]
    assert anon.post(f"/api/tokens/{token_id}/revoke", headers=bearer).status_code == 200
    assert anon.get("/api/tokens", headers=bearer).status_code == 401


def test_s27_last_used_is_recorded(api: httpx.Client, anon: httpx.Client) -> None:
    raw, user_code = issue_token(api, anon)
    assert "last_used" not in find(api, f"CLI ({user_code})")
    before = int(time.time())
    assert anon.get("/api/tokens", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    # The update may be asynchronous: poll in small steps, bounded.
    deadline = time.monotonic() + 5
    token = find(api, f"CLI ({user_code})")
    while "last_used" not in token and time.monotonic() < deadline:
        time.sleep(0.02)
        token = find(api, f"CLI ({user_code})")
    last_used = token.get("last_used")
    assert isinstance(last_used, int)
    assert before <= last_used <= int(time.time())
