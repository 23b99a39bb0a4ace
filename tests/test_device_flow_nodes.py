"""Shared auth state across nodes (issue 15 item 4, scale-out design §5.4): three real
`lunard serve` processes on loopback ports share one PostgreSQL state (the suite's
throwaway server), with the same admin key and separate data dirs. A device code requested
on one node is approved on a second and collected on a third; the token and a dashboard
session made on one node work on the others; racing decisions and collections on two
nodes give exactly one winner."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest

from lunard.credentials import sha256_hex
from tests.daemon import Daemon, start_daemon
from tests.pg import PgServer

NOT_FOUND = {"error": "Device code not found or expired"}


@pytest.fixture(scope="module")
def state_url(pg_server: PgServer) -> str:
    """One database for the module's three nodes."""
    return pg_server.create_database()


@pytest.fixture(scope="module")
def nodes(state_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Daemon]]:
    root = tmp_path_factory.mktemp("nodes")
    env = {"LUNARD_STATE_URL": state_url, "LUNARD_WORKERS": "1"}
    started: list[Daemon] = []
    try:
        for name in ("a", "b", "c"):
            started.append(start_daemon(root / name, env={**env, "LUNARD_NODE_ID": name}))
        yield started
    finally:
        codes = [node.stop() for node in started]
        assert codes == [0] * len(started), [node.log() for node in started]


def request_code(node: Daemon) -> dict[str, Any]:
    response = node.client(auth=False).post("/api/auth/device-request")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def approve(client: httpx.Client, code: str, action: str = "allow") -> httpx.Response:
    return client.post("/api/auth/device-approve", json={"device_code": code, "action": action})


def poll(node: Daemon, code: str) -> httpx.Response:
    return node.client(auth=False).get("/api/auth/device-token", params={"code": code})


def session_client(node: Daemon, session: str) -> httpx.Client:
    """A client on `node` that carries only the dashboard cookie."""
    client = httpx.Client(base_url=node.url, cookies={"auth_token": session}, timeout=30)
    node.clients.append(client)
    return client


def login(node: Daemon) -> str:
    response = node.client(auth=False).post("/api/auth/login", json={"apiKey": node.api_key})
    assert response.status_code == 200, response.text
    return response.cookies["auth_token"]


def race(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """The calls at once, one thread each (released together); their responses in order."""
    barrier = threading.Barrier(len(calls))
    responses: dict[int, httpx.Response] = {}

    def run(index: int) -> None:
        barrier.wait()
        responses[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [responses[i] for i in range(len(calls))]


def test_request_on_a_approve_on_b_collect_on_c(nodes: list[Daemon], state_url: str) -> None:
    a, b, c = nodes
    body = request_code(a)
    code = body["device_code"]
    # B shows and approves A's code, signed in with a session cookie made on A.
    on_b = session_client(b, login(a))
    shown = on_b.get("/api/auth/device-approve", params={"code": code})
    assert shown.status_code == 200, shown.text
    assert shown.json()["user_code"] == body["user_code"]
    assert shown.json()["status"] == "pending"
    assert poll(c, code).json() == {"status": "pending"}
    response = approve(on_b, code)
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True}

    collected = poll(c, code)
    assert collected.status_code == 200, collected.text
    assert collected.json()["status"] == "approved"
    token = collected.json()["token"]
    for node in (a, b):
        again = poll(node, code)
        assert again.status_code == 410
        assert again.json() == {"error": "Token already collected"}

    # The token authenticates on A, and A lists it under the code's name.
    bearer = a.client(auth=False)
    listed = bearer.get("/api/tokens", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200, listed.text
    assert f"CLI ({body['user_code']})" in [t["name"] for t in listed.json()["tokens"]]
    # PostgreSQL holds neither the raw token nor the raw device code.
    with psycopg.connect(state_url) as conn:
        device_rows = conn.execute("SELECT * FROM device_requests").fetchall()
        token_rows = conn.execute("SELECT * FROM api_tokens").fetchall()
    flat = {str(value) for row in device_rows + token_rows for value in row}
    assert token not in flat and code not in flat
    assert sha256_hex(code) in flat and sha256_hex(token) in flat


def test_a_session_made_on_a_works_on_b_until_logout_on_c(nodes: list[Daemon]) -> None:
    a, b, c = nodes
    session = login(a)
    assert session_client(b, session).get("/api/tokens").status_code == 200
    logout = session_client(c, session).post("/api/auth/logout")
    assert logout.status_code == 200
    for node in nodes:
        refused = session_client(node, session).get("/api/tokens")
        assert refused.status_code == 401
        assert refused.json() == {"error": "Authentication required"}


def test_deny_on_c_is_seen_by_a_and_b(nodes: list[Daemon]) -> None:
    a, b, c = nodes
    code = request_code(b)["device_code"]
    assert approve(c.client(), code, "deny").json() == {"success": True}
    assert poll(a, code).json() == {"status": "denied"}
    second = approve(a.client(), code)
    assert second.status_code == 404
    assert second.json() == NOT_FOUND
    assert status_on(b, code) == "denied"


def status_on(node: Daemon, code: str) -> str:
    """What the approval page shows for `code` on `node` (it never collects)."""
    response = node.client().get("/api/auth/device-approve", params={"code": code})
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


def test_racing_approvals_and_collections_on_two_nodes(nodes: list[Daemon]) -> None:
    a, b, c = nodes
    tokens_before = len(a.client().get("/api/tokens").json()["tokens"])
    code = request_code(a)["device_code"]
    on_b, on_c = b.client(), c.client()
    decided = race([lambda: approve(on_b, code), lambda: approve(on_c, code)])
    assert sorted(r.status_code for r in decided) == [200, 404]
    assert status_on(a, code) == "approved"
    assert len(a.client().get("/api/tokens").json()["tokens"]) == tokens_before

    polled = race([lambda: poll(b, code), lambda: poll(c, code)])
    assert sorted(r.status_code for r in polled) == [200, 410]
    [collected] = [r for r in polled if r.status_code == 200]
    assert collected.json()["status"] == "approved" and collected.json()["token"]
    assert len(a.client().get("/api/tokens").json()["tokens"]) == tokens_before + 1


def test_racing_allow_and_deny_on_two_nodes(nodes: list[Daemon]) -> None:
    a, b, c = nodes
    code = request_code(c)["device_code"]
    on_a, on_b = a.client(), b.client()
    decided = race([lambda: approve(on_a, code), lambda: approve(on_b, code, "deny")])
    assert sorted(r.status_code for r in decided) == [200, 404]
    winner = "approved" if decided[0].status_code == 200 else "denied"
    assert status_on(c, code) == winner
