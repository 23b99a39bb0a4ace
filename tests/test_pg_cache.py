"""Two real `lunard serve` nodes on one PostgreSQL state (issue 15 item 2, and the database
part of item 7): a change made through node A is what node B runs on its very next call,
B's `/fn` cache really serves from memory (a change nobody announced is not seen), a killed
listener connection clears B's cache and reconnects, and `/readyz` fails while the
database refuses the node and recovers after. Loopback only; separate data dirs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.daemon import Daemon, start_daemon
from tests.http.helpers import create
from tests.pg import PgServer

WAIT_S = 15.0  # bound for what normally takes milliseconds
CODE = """
function handler(ctx, event)
  return {statusCode = 200, body = "%s " .. tostring(env.get("GREETING"))}
end
"""


def node(pg_url: str, tmp_path: Path, name: str) -> Daemon:
    # A TTL of an hour: only the notifications can make B see a change within the test.
    env = {"LUNARD_STATE_URL": pg_url, "LUNARD_NODE_ID": name, "LUNARD_STATE_CACHE_TTL": "3600"}
    return start_daemon(tmp_path / name, env=env)


@pytest.fixture
def nodes(pg_url: str, tmp_path: Path) -> Iterator[tuple[Daemon, Daemon]]:
    a = node(pg_url, tmp_path, "a")
    try:
        b = node(pg_url, tmp_path, "b")
    except BaseException:
        a.stop()
        raise
    yield a, b
    assert b.stop() == 0, b.log()
    assert a.stop() == 0, a.log()


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {WAIT_S}s: {what}")
        time.sleep(0.05)


def listener_pids(url: str, name: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
            (f"lunard-events {name}",),
        ).fetchall()
    return [row[0] for row in rows]


def runs_on(client: httpx.Client, fid: str, expected: tuple[int, str]) -> None:
    """The node's very next call answers `expected` (status, body). With an hour's cache TTL
    only the change's NOTIFY can make a node drop what it cached: PostgreSQL sends it at the
    writer's commit, before the writer answers its client, and a lookup first handles what
    already reached the listening socket (`StateEvents._poll_now`)."""
    response = client.post(f"/fn/{fid}")
    assert (response.status_code, response.text) == expected


def test_a_change_through_a_is_what_b_runs_on_its_next_call(
    nodes: tuple[Daemon, Daemon],
) -> None:
    a, b = nodes
    api_a, fn_a, fn_b = a.client(), a.client(auth=False), b.client(auth=False)
    fid = create(api_a, CODE % "v1")["id"]
    assert fn_b.post(f"/fn/{fid}").text == "v1 nil"  # now in B's cache
    assert fn_a.post(f"/fn/{fid}").text == "v1 nil"  # and in A's

    changes: list[tuple[Callable[[], httpx.Response], tuple[int, str]]] = [
        (lambda: api_a.put(f"/api/functions/{fid}", json={"code": CODE % "v2"}), (200, "v2 nil")),
        (
            lambda: api_a.put(f"/api/functions/{fid}/env", json={"env_vars": {"GREETING": "hi"}}),
            (200, "v2 hi"),
        ),
        (
            lambda: api_a.post(f"/api/functions/{fid}/versions/ver_{fid}_v1/activate"),
            (200, "v1 hi"),
        ),
        (
            lambda: api_a.put(f"/api/functions/{fid}", json={"disabled": True}),
            (403, '{"error": "Function is disabled"}'),
        ),
        (lambda: api_a.put(f"/api/functions/{fid}", json={"disabled": False}), (200, "v1 hi")),
        (lambda: api_a.delete(f"/api/functions/{fid}"), (404, '{"error": "Function not found"}')),
    ]
    for change, expected in changes:
        assert change().is_success
        # The writing node drops its own entry at commit: its very next call sees it.
        got = fn_a.post(f"/fn/{fid}")
        assert (got.status_code, got.text) == expected
        runs_on(fn_b, fid, expected)


COUNTING = """
function handler(ctx, event)
  local n = tonumber(env.get("N") or "0") + 1
  env.set("N", tostring(n))
  return {statusCode = 200, body = tostring(n)}
end
"""


def test_env_written_by_a_handler_on_one_node_is_what_the_other_runs_next(
    nodes: tuple[Daemon, Daemon],
) -> None:
    # A worker's env.set announces the change too (its autocommit write NOTIFYs at once),
    # so the other node's cached env is dropped: the count goes on across the two nodes.
    a, b = nodes
    fid = create(a.client(), COUNTING)["id"]
    fn_a, fn_b = a.client(auth=False), b.client(auth=False)
    answers = [(fn_a if i % 2 == 0 else fn_b).post(f"/fn/{fid}").text for i in range(6)]
    assert answers == ["1", "2", "3", "4", "5", "6"]


def test_a_killed_listener_clears_the_cache_and_reconnects(
    nodes: tuple[Daemon, Daemon], pg_url: str
) -> None:
    a, b = nodes
    fid = create(a.client(), CODE % "v1")["id"]
    fn_b = b.client(auth=False)
    assert fn_b.post(f"/fn/{fid}").text == "v1 nil"
    with psycopg.connect(pg_url, autocommit=True) as conn:  # a change nobody announces
        conn.execute(
            "UPDATE function_versions SET code = %s WHERE function_id = %s", (CODE % "raw", fid)
        )
    assert fn_b.post(f"/fn/{fid}").text == "v1 nil"  # B serves its cached target

    (pid,) = listener_pids(pg_url, "b")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    wait_for(lambda: listener_pids(pg_url, "b") not in ([], [pid]), "B listens again")
    assert fn_b.post(f"/fn/{fid}").text == "raw nil"  # cleared: read from the database
    assert "listening again; cache cleared" in b.log()
    assert httpx.get(f"{b.url}/readyz").status_code == 200


def readyz(daemon: Daemon) -> httpx.Response:
    return httpx.get(f"{daemon.url}/readyz", timeout=10)


def test_readyz_fails_while_the_database_is_unreachable_and_recovers(
    pg_url: str, pg_server: PgServer, tmp_path: Path
) -> None:
    daemon = node(pg_url, tmp_path, "solo")
    database = pg_url.rsplit("/", 1)[1]
    try:
        fid = create(daemon.client(), CODE % "v1")["id"]
        assert readyz(daemon).json() == {"status": "ready"}
        with psycopg.connect(pg_server.url(), autocommit=True) as admin:
            # The node's database refuses every connection (superusers too) and drops them.
            admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (database,),
            )
            wait_for(lambda: readyz(daemon).status_code == 503, "not ready")
            body = readyz(daemon).json()
            assert body["status"] == "unavailable", body
            assert "state database" in body["problems"]["state"], body
            admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        wait_for(lambda: readyz(daemon).status_code == 200, "ready again")
        wait_for(lambda: listener_pids(pg_url, "solo") != [], "listening again")
        call = daemon.client(auth=False).post(f"/fn/{fid}")
        assert call.status_code == 200 and call.text == "v1 nil", call.text
    finally:
        assert daemon.stop() == 0, daemon.log()
