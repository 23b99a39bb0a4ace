"""CLI device authorization (http-api §2.6, §5.3–5.6; statements 13–22, 28; DECISIONS 9)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import httpx
import pytest

from lunard.credentials import USER_CODE_ALPHABET
from lunard.http.device_auth import DeviceAuthStore, DeviceStatus
from lunard.state import StateStore, connect, tokens
from tests.daemon import Daemon, start_daemon

NOT_FOUND = {"error": "Device code not found or expired"}
HEX64 = re.compile(r"[0-9a-f]{64}")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """This module's daemon has a BASE_URL (with a trailing slash) to check approval_url."""
    d = start_daemon(
        tmp_path_factory.mktemp("device") / "data", env={"BASE_URL": "https://lunard.test:8443/"}
    )
    yield d
    d.stop()


def new_code(anon: httpx.Client) -> dict[str, Any]:
    response = anon.post("/api/auth/device-request")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def approve(api: httpx.Client, code: str, action: str = "allow") -> httpx.Response:
    return api.post("/api/auth/device-approve", json={"device_code": code, "action": action})


def poll(anon: httpx.Client, code: str) -> httpx.Response:
    return anon.get("/api/auth/device-token", params={"code": code})


def token_count(api: httpx.Client) -> int:
    return len(api.get("/api/tokens").json()["tokens"])


def test_s13_device_request_is_public(anon: httpx.Client) -> None:
    body = new_code(anon)
    assert body["device_code"]
    assert body["user_code"]
    assert body["expires_in"] == 300
    assert body["interval"] == 5
    assert (
        body["approval_url"] == f"https://lunard.test:8443/#!/device-approve/{body['device_code']}"
    )


def test_device_request_ignores_any_body(anon: httpx.Client) -> None:
    response = anon.post("/api/auth/device-request", content=b"{not json")
    assert response.status_code == 200
    assert response.json()["device_code"]


def test_s14_user_code_alphabet_and_pending_lookup(api: httpx.Client, anon: httpx.Client) -> None:
    codes = [new_code(anon) for _ in range(20)]
    for body in codes:
        user_code = str(body["user_code"])
        assert len(user_code) == 8
        assert set(user_code) <= set(USER_CODE_ALPHABET)
        assert not set(user_code) & set("IO01-")
    assert len({body["device_code"] for body in codes}) == 20
    status = api.get("/api/auth/device-approve", params={"code": codes[0]["device_code"]})
    assert status.status_code == 200
    assert status.json()["status"] == "pending"


def test_s15_fresh_code_polls_pending(anon: httpx.Client) -> None:
    response = poll(anon, new_code(anon)["device_code"])
    assert response.status_code == 200
    assert response.json() == {"status": "pending"}


def test_s16_unknown_code_is_404(anon: httpx.Client) -> None:
    response = poll(anon, "nonexistent")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_s17_missing_code_is_400(anon: httpx.Client, api: httpx.Client) -> None:
    for client, path in ((anon, "/api/auth/device-token"), (api, "/api/auth/device-approve")):
        for url in (path, path + "?code="):
            response = client.get(url)
            assert response.status_code == 400, url
            assert response.json() == {"error": "Missing code parameter"}


def test_s18_full_allow_flow(api: httpx.Client, anon: httpx.Client) -> None:
    body = new_code(anon)
    code = body["device_code"]
    status = api.get("/api/auth/device-approve", params={"code": code})
    assert status.status_code == 200
    shown = status.json()
    assert shown["status"] == "pending"
    assert shown["user_code"] == body["user_code"]
    assert shown["device_code"] == code
    assert isinstance(shown["expires_at"], int)
    response = approve(api, code)
    assert response.status_code == 200
    assert response.json() == {"success": True}
    polled = poll(anon, code)
    assert polled.status_code == 200
    assert polled.json()["status"] == "approved"
    token = polled.json()["token"]
    assert token
    listed = anon.get("/api/functions", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200
    # The approval page keeps showing the decided code until it expires.
    assert api.get("/api/auth/device-approve", params={"code": code}).json()["status"] == (
        "approved"
    )


def test_s19_deny_flow(api: httpx.Client, anon: httpx.Client) -> None:
    code = new_code(anon)["device_code"]
    before = token_count(api)
    response = approve(api, code, "deny")
    assert response.status_code == 200
    assert response.json() == {"success": True}
    polled = poll(anon, code)
    assert polled.status_code == 200
    assert polled.json() == {"status": "denied"}
    assert poll(anon, code).json() == {"status": "denied"}
    assert token_count(api) == before


def test_s20_device_approve_needs_auth(anon: httpx.Client) -> None:
    code = new_code(anon)["device_code"]
    assert anon.get("/api/auth/device-approve", params={"code": "test"}).status_code == 401
    response = approve(anon, code)
    assert response.status_code == 401
    assert response.json() == {"error": "Authentication required"}
    assert poll(anon, code).json() == {"status": "pending"}


def test_s21_invalid_action_is_400(api: httpx.Client, anon: httpx.Client) -> None:
    code = new_code(anon)["device_code"]
    for c in (code, "unknown-code"):  # checked before any lookup
        response = approve(api, c, "invalid")
        assert response.status_code == 400
        assert response.json() == {"error": "Invalid action, must be 'allow' or 'deny'"}


def test_device_approve_bad_bodies(api: httpx.Client, anon: httpx.Client) -> None:
    code = new_code(anon)["device_code"]
    cases: list[tuple[object, dict[str, str]]] = [
        (b"{not json", {"error": "Invalid request body"}),
        (b"", {"error": "Invalid request body"}),
        (b"[1]", {"error": "Invalid request body"}),
        ({"device_code": 5, "action": "allow"}, {"error": "Invalid request body"}),
        ({"device_code": code, "action": True}, {"error": "Invalid request body"}),
        ({"action": "allow"}, {"error": "Missing device_code"}),
        ({"device_code": "", "action": "allow"}, {"error": "Missing device_code"}),
        ({"device_code": code}, {"error": "Invalid action, must be 'allow' or 'deny'"}),
    ]
    for body, error in cases:
        if isinstance(body, bytes):
            response = api.post("/api/auth/device-approve", content=body)
        else:
            response = api.post("/api/auth/device-approve", json=body)
        assert response.status_code == 400, body
        assert response.json() == error, body
    assert poll(anon, code).json() == {"status": "pending"}


def test_approving_unknown_code_is_404(api: httpx.Client) -> None:
    for action in ("allow", "deny"):
        response = approve(api, "nonexistent", action)
        assert response.status_code == 404
        assert response.json() == NOT_FOUND


def test_s22_second_decision_is_404_and_creates_nothing(
    api: httpx.Client, anon: httpx.Client
) -> None:
    code = new_code(anon)["device_code"]
    assert approve(api, code).status_code == 200
    after_first = token_count(api)
    for action in ("allow", "deny"):
        response = approve(api, code, action)
        assert response.status_code == 404
        assert response.json() == NOT_FOUND
    assert token_count(api) == after_first  # DECISIONS 9: no orphan token row
    assert poll(anon, code).json()["status"] == "approved"
    # The collecting poll makes the code's one token row (no raw token is stored before).
    collected = token_count(api)
    assert collected == after_first + 1

    denied = new_code(anon)["device_code"]
    assert approve(api, denied, "deny").status_code == 200
    assert approve(api, denied, "allow").status_code == 404
    assert token_count(api) == collected
    assert poll(anon, denied).json() == {"status": "denied"}


def test_token_is_collected_once(api: httpx.Client, anon: httpx.Client) -> None:
    """DECISIONS 9: the raw token is handed out by one poll; later polls answer 410."""
    code = new_code(anon)["device_code"]
    approve(api, code)
    first = poll(anon, code)
    assert first.json()["status"] == "approved"
    again = poll(anon, code)
    assert again.status_code == 410
    assert again.json() == {"error": "Token already collected"}
    assert "token" not in again.text
    # The collected token still works; collection does not revoke anything.
    headers = {"Authorization": f"Bearer {first.json()['token']}"}
    assert anon.get("/api/tokens", headers=headers).status_code == 200


def test_head_poll_does_not_consume_the_token(api: httpx.Client, anon: httpx.Client) -> None:
    code = new_code(anon)["device_code"]
    approve(api, code)
    head = anon.head("/api/auth/device-token", params={"code": code})
    assert head.status_code == 200
    assert head.content == b""
    polled = poll(anon, code)
    assert polled.status_code == 200
    assert HEX64.fullmatch(polled.json()["token"])


def test_approve_with_api_token(api: httpx.Client, anon: httpx.Client) -> None:
    """API tokens may call every protected route, device approval included."""
    code = new_code(anon)["device_code"]
    approve(api, code)
    headers = {"Authorization": f"Bearer {poll(anon, code).json()['token']}"}
    second = new_code(anon)["device_code"]
    response = anon.post(
        "/api/auth/device-approve",
        json={"device_code": second, "action": "allow"},
        headers=headers,
    )
    assert response.status_code == 200
    assert poll(anon, second).json()["status"] == "approved"


def test_s28_raw_tokens_are_64_lowercase_hex(api: httpx.Client, anon: httpx.Client) -> None:
    seen = set()
    for _ in range(3):
        code = new_code(anon)["device_code"]
        approve(api, code)
        token = poll(anon, code).json()["token"]
        assert HEX64.fullmatch(token)
        seen.add(token)
    assert len(seen) == 3


def test_allow_creates_the_token_row_only_when_collected(
    daemon: Daemon, api: httpx.Client, anon: httpx.Client
) -> None:
    """No raw token is ever stored: approval creates nothing, the collecting poll does."""
    body = new_code(anon)
    before = token_count(api)
    assert approve(api, body["device_code"]).status_code == 200
    assert token_count(api) == before
    token = poll(anon, body["device_code"]).json()["token"]
    names = [t["name"] for t in api.get("/api/tokens").json()["tokens"]]
    assert token_count(api) == before + 1
    assert f"CLI ({body['user_code']})" in names
    # Neither the raw token nor the raw device code is anywhere in the state file.
    with closing(connect(daemon.data_dir / "lunard.db")) as conn:
        for table in ("device_requests", "api_tokens"):
            for row in conn.execute(f"SELECT * FROM {table}"):
                assert token not in tuple(row) and body["device_code"] not in tuple(row)


def test_a_failed_collection_is_500_and_the_next_poll_collects(
    daemon: Daemon, api: httpx.Client, anon: httpx.Client
) -> None:
    code = new_code(anon)["device_code"]
    approve(api, code)
    before = token_count(api)
    # A real failure of the token insert: the daemon's table is away for one poll.
    with closing(connect(daemon.data_dir / "lunard.db")) as conn:
        conn.execute("ALTER TABLE api_tokens RENAME TO api_tokens_away")
        try:
            failed = poll(anon, code)
        finally:
            conn.execute("ALTER TABLE api_tokens_away RENAME TO api_tokens")
    assert failed.status_code == 500
    assert failed.json() == {"error": "Failed to create token"}
    polled = poll(anon, code)
    assert polled.status_code == 200
    assert HEX64.fullmatch(polled.json()["token"])
    assert token_count(api) == before + 1
    assert poll(anon, code).status_code == 410


class FakeClock:
    """A settable clock for the store's expiry (no sleeping)."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _device_rows(state: StateStore) -> int:
    return int(
        state.call_sync(lambda c: c.execute("SELECT COUNT(*) FROM device_requests").fetchone()[0])
    )


async def test_store_entries_expire_after_ttl(state_store: StateStore) -> None:
    clock = FakeClock()
    store = DeviceAuthStore(ttl=300, clock=clock)
    entry = await store.create(state_store)
    assert entry.expires_at == entry.created_at + 300
    clock.now += 299
    assert await store.get(state_store, entry.device_code) == entry
    clock.now += 1
    assert await store.get(state_store, entry.device_code) is None
    assert await store.approve(state_store, entry.device_code) is False
    assert await store.deny(state_store, entry.device_code) is False
    assert (await store.collect(state_store, entry.device_code)).request is None


async def test_store_sweeps_expired_entries_on_create(state_store: StateStore) -> None:
    clock = FakeClock()
    store = DeviceAuthStore(ttl=300, clock=clock)
    old = [await store.create(state_store) for _ in range(5)]
    clock.now += 200
    young = await store.create(state_store)
    clock.now += 150
    await store.create(state_store)
    assert _device_rows(state_store) == 2
    assert all([await store.get(state_store, e.device_code) is None for e in old])
    assert await store.get(state_store, young.device_code) == young


async def test_store_approved_token_expires_with_the_code(state_store: StateStore) -> None:
    clock = FakeClock()
    store = DeviceAuthStore(ttl=300, clock=clock)
    entry = await store.create(state_store)
    assert await store.approve(state_store, entry.device_code)
    clock.now += 300
    assert await store.get(state_store, entry.device_code) is None
    assert (await store.collect(state_store, entry.device_code)).token is None
    assert state_store.call_sync(tokens.list_tokens) == []


async def test_store_decides_once_and_hands_the_token_out_once(state_store: StateStore) -> None:
    store = DeviceAuthStore()
    entry = await store.create(state_store)
    assert await store.approve(state_store, entry.device_code)
    assert await store.approve(state_store, entry.device_code) is False
    assert await store.deny(state_store, entry.device_code) is False
    current = await store.get(state_store, entry.device_code)
    assert current is not None and current.status is DeviceStatus.APPROVED
    first = await store.collect(state_store, entry.device_code)
    assert first.token is not None
    again = await store.collect(state_store, entry.device_code)
    assert again.token is None and again.request is not None and again.request.collected
