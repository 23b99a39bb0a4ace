"""`/fn`'s in-memory view of functions (`state.runtime.RuntimeView`): every change is
visible to the very next call.

Against the real daemon with real workers (each change made through the API, or by a
handler's own `env.set`), then the view alone on a real SQLite file for a writer the
daemon does not know about.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from lunard.state import StateStore, connect
from lunard.state import functions as store
from tests.daemon import Daemon


def code(tag: str) -> str:
    return (
        "function handler(ctx, event)\n"
        f'  return {{statusCode = 200, body = "{tag}:" .. (env.get("GREETING") or "")}}\n'
        "end"
    )


def call(anon: httpx.Client, fid: str) -> httpx.Response:
    return anon.get(f"/fn/{fid}")


def make(api: httpx.Client, body: str) -> str:
    response = api.post("/api/functions", json={"name": "cached", "code": body})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def test_every_api_change_is_seen_by_the_next_call(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(api, code("v1"))
    for _ in range(3):  # the view now holds the function
        assert call(anon, fid).text == "v1:"

    assert api.put(f"/api/functions/{fid}", json={"code": code("v2")}).status_code == 200
    reply = call(anon, fid)
    assert (reply.text, reply.headers["X-Function-Version-Id"]) == ("v2:", f"ver_{fid}_v2")

    activated = api.post(f"/api/functions/{fid}/versions/ver_{fid}_v1/activate")
    assert activated.status_code == 200
    reply = call(anon, fid)
    assert (reply.text, reply.headers["X-Function-Version-Id"]) == ("v1:", f"ver_{fid}_v1")

    assert api.put(f"/api/functions/{fid}/env", json={"env_vars": {"GREETING": "hi"}}).is_success
    assert call(anon, fid).text == "v1:hi"

    assert api.put(f"/api/functions/{fid}", json={"disabled": True}).status_code == 200
    assert call(anon, fid).status_code == 403
    assert api.put(f"/api/functions/{fid}", json={"disabled": False}).status_code == 200
    assert call(anon, fid).text == "v1:hi"

    assert api.put(f"/api/functions/{fid}", json={"max_concurrency": 0}).status_code == 200
    assert call(anon, fid).status_code == 429
    assert api.put(f"/api/functions/{fid}", json={"max_concurrency": None}).status_code == 200
    assert call(anon, fid).status_code == 200

    assert api.delete(f"/api/functions/{fid}").status_code == 204
    reply = call(anon, fid)
    assert (reply.status_code, reply.json()) == (404, {"error": "Function not found"})


def test_a_handlers_env_set_is_seen_by_the_next_call(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(
        api,
        "function handler(ctx, event)\n"
        '  local n = (tonumber(env.get("COUNT")) or 0) + 1\n'
        '  env.set("COUNT", tostring(n))\n'
        "  return {statusCode = 200, body = tostring(n)}\n"
        "end",
    )
    assert [call(anon, fid).text for _ in range(4)] == ["1", "2", "3", "4"]


def test_a_write_behind_the_daemons_back_is_seen_too(
    daemon: Daemon, api: httpx.Client, anon: httpx.Client
) -> None:
    fid = make(api, code("v1"))
    assert call(anon, fid).text == "v1:"
    conn = connect(daemon.data_dir / "lunard.db")  # autocommit: written when this returns
    conn.execute("UPDATE function_versions SET is_active = 0 WHERE function_id = ?", (fid,))
    conn.close()
    reply = call(anon, fid)
    assert (reply.status_code, reply.json()) == (500, {"error": "No active version found"})


def test_the_view_serves_from_memory_and_drops_everything_on_a_commit(tmp_path: Path) -> None:
    state_store = StateStore.open(tmp_path)
    try:
        created = state_store.call_sync(
            lambda c: store.create_function(c, "f", None, code("v1"), None)
        )
        fid = created["id"]
        view = state_store.runtime
        first = view.target(fid)
        assert first is not None and first.code == code("v1")
        assert view.target(fid) is first  # no new read while nothing was committed
        assert view.target("missing") is None

        other = connect(state_store.path)  # another process's connection, e.g. a worker
        other.execute(
            "INSERT INTO env_vars (function_id, key, value) VALUES (?, 'GREETING', 'hi')",
            (fid,),
        )
        other.close()
        second = view.target(fid)
        assert second is not None and second is not first
        assert second.env == {"GREETING": "hi"}

        state_store.call_sync(lambda c: store.activate_version(c, fid, f"ver_{fid}_v1"))
        assert view.target(fid) is not second  # the daemon's own write, even a no-op one
    finally:
        state_store.close()
