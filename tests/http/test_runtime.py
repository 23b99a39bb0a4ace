"""`/fn` against the real daemon with real workers: http-api §7 statements 65–87, the
response mapping decisions (10, 11), body cap, trigger spoofing and error logging (12)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.daemon import Daemon, start_daemon


def make(api: httpx.Client, code: str, name: str = "fn") -> str:
    response = api.post("/api/functions", json={"name": name, "code": code})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def execution(api: httpx.Client, execution_id: str) -> dict[str, Any]:
    response = api.get(f"/api/executions/{execution_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def handler(body: str) -> str:
    return f"function handler(ctx, event)\n{body}\nend"


def test_s65_platform_headers(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(api, handler("""return {statusCode = 200, body = '{"message": "success"}'}"""))
    response = anon.post(f"/fn/{fid}")
    assert response.status_code == 200
    assert response.json() == {"message": "success"}
    assert response.headers["X-Function-Id"] == fid
    assert response.headers["X-Function-Version-Id"] == f"ver_{fid}_v1"
    assert response.headers["X-Execution-Id"]
    assert response.headers["X-Execution-Duration-Ms"].isdigit()


def test_s66_echo_body_byte_for_byte(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(api, handler("return {statusCode = 200, body = event.body}"))
    payload = bytes(range(256)) * 4
    assert anon.post(f"/fn/{fid}", content=payload).content == payload


def test_s67_s68_status_and_headers(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(
        api,
        handler(
            "return {statusCode = 201, body = 'x', headers = "
            "{['X-Custom-Header'] = 'custom-value', ['Content-Type'] = 'text/plain'}}"
        ),
    )
    response = anon.get(f"/fn/{fid}")
    assert response.status_code == 201
    assert response.headers["X-Custom-Header"] == "custom-value"
    assert response.headers["Content-Type"] == "text/plain"


def test_s69_s70_content_types(api: httpx.Client, anon: httpx.Client) -> None:
    html = make(
        api,
        handler("return {body = '<h1>hi</h1>', headers = {['Content-Type'] = 'text/html'}}"),
    )
    response = anon.get(f"/fn/{html}")
    assert response.headers["Content-Type"] == "text/html"
    assert response.text == "<h1>hi</h1>"
    plain = make(api, handler("return {body = 'x'}"))
    assert anon.get(f"/fn/{plain}").headers["Content-Type"] == "application/json"
    empty = make(api, handler("return {}"))
    response = anon.get(f"/fn/{empty}")
    assert (response.status_code, response.content) == (200, b"")


def test_s71_syntax_error_is_500(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(api, "function handler(ctx, event) return {statusCode = 200 end")
    response = anon.post(f"/fn/{fid}")
    assert response.status_code == 500
    assert response.json() == {"error": "Function execution failed"}
    record = execution(api, response.headers["X-Execution-Id"])
    assert record["status"] == "error"
    assert "syntax" in record["error_message"].lower()


def test_s72_lua_error_recorded_and_logged(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(api, handler("error('Something went wrong!')"))
    response = anon.post(f"/fn/{fid}")
    assert response.status_code == 500
    assert response.json() == {"error": "Function execution failed"}
    exec_id = response.headers["X-Execution-Id"]
    record = execution(api, exec_id)
    assert record["status"] == "error"
    assert "Something went wrong!" in record["error_message"]
    logs = api.get(f"/api/executions/{exec_id}/logs").json()["logs"]  # DECISIONS 12
    assert any(
        entry["level"] == "error" and "Something went wrong!" in entry["message"] for entry in logs
    )


def test_s73_unknown_function_404(anon: httpx.Client) -> None:
    response = anon.post("/fn/nonexistent")
    assert response.status_code == 404
    assert response.json() == {"error": "Function not found"}
    assert "X-Execution-Id" not in response.headers


def test_s74_no_active_version_500(daemon: Daemon, api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(api, handler("return {}"))
    import sqlite3

    with sqlite3.connect(daemon.data_dir / "lunard.db") as conn:
        conn.execute("UPDATE function_versions SET is_active = 0 WHERE function_id = ?", (fid,))
    response = anon.get(f"/fn/{fid}")
    assert response.status_code == 500
    assert response.json() == {"error": "No active version found"}


def test_s75_s79_every_method_runs(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(api, handler("return {statusCode = 200, body = event.method}"))
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
        response = anon.request(method, f"/fn/{fid}")
        assert (response.status_code, response.text) == (200, method)
        event = json.loads(execution(api, response.headers["X-Execution-Id"])["event_json"])
        assert event["method"] == method


def test_head_runs_without_a_body(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(api, handler("return {statusCode = 200, body = event.method}"))
    response = anon.head(f"/fn/{fid}")
    assert response.status_code == 200
    assert response.content == b""


def test_s76_disabled_function_403_nothing_recorded(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(api, handler("return {}"))
    assert api.put(f"/api/functions/{fid}", json={"disabled": True}).status_code == 200
    response = anon.get(f"/fn/{fid}")
    assert response.status_code == 403
    assert response.json() == {"error": "Function is disabled"}
    executions = api.get(f"/api/functions/{fid}/executions").json()
    assert executions["pagination"]["total"] == 0


def test_s77_paths_and_query(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(
        api,
        handler(
            "return {body = event.path .. '|' .. event.relativePath .. '|' .. "
            "tostring(event.query.x) .. '|' .. tostring(event.query.y)}"
        ),
    )
    assert anon.get(f"/fn/{fid}/users/42?x=1&y=a+b").text == f"/fn/{fid}/users/42|/users/42|1|a b"
    assert anon.get(f"/fn/{fid}").text == f"/fn/{fid}|/|nil|nil"
    assert anon.get(f"/fn/{fid}/").text.split("|")[1] == "/"


def test_event_headers_canonical_first_value_no_host(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(api, handler("return {body = json.encode(event.headers)}"))
    headers = anon.get(f"/fn/{fid}", headers={"x-api-key": "k1", "X-MULTI-word": "v"}).json()
    assert headers["X-Api-Key"] == "k1"
    assert headers["X-Multi-Word"] == "v"
    assert "Host" not in headers


def test_ctx_fields(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(
        api,
        handler(
            "return {body = json.encode({id = ctx.executionId, fn = ctx.functionId, "
            "v = ctx.version, name = ctx.functionName, at = ctx.startedAt, url = ctx.baseUrl})}"
        ),
        name="ctx-check",
    )
    response = anon.get(f"/fn/{fid}")
    ctx = response.json()
    assert ctx["id"] == response.headers["X-Execution-Id"]
    assert (ctx["fn"], ctx["v"], ctx["name"]) == (fid, "1", "ctx-check")
    assert isinstance(ctx["at"], int)
    assert ctx["url"].startswith("http://")


def test_s78_s80_event_json_is_masked(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(api, handler("return {body = event.headers['Authorization'] or ''}"))
    response = anon.post(
        f"/fn/{fid}?param1=value1&param2=value2&api_key=s3cret&limit=10",
        json={"username": "john", "password": "secret123", "api_key": "abc"},
        headers={
            "X-Custom-Header": "custom",
            "Authorization": "Bearer test-token",
            "Cookie": "a=b",
            "X-Api-Key": "k",
        },
    )
    assert response.text == "Bearer test-token"  # the handler sees the real event
    event = json.loads(execution(api, response.headers["X-Execution-Id"])["event_json"])
    assert event["method"] == "POST"
    assert event["path"] == f"/fn/{fid}"
    assert event["relativePath"] == "/"
    assert event["headers"]["Content-Type"] == "application/json"
    assert event["headers"]["X-Custom-Header"] == "custom"
    for name in ("Authorization", "Cookie", "X-Api-Key"):
        assert event["headers"][name] == "[REDACTED]"
    assert event["query"]["param1"] == "value1"
    assert event["query"]["param2"] == "value2"
    assert event["query"]["limit"] == "10"
    assert event["query"]["api_key"] == "[REDACTED]"
    body = json.loads(event["body"])
    assert body == {"username": "john", "password": "[REDACTED]", "api_key": "[REDACTED]"}


def test_s81_save_response(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(
        api,
        handler(
            "return {statusCode = 200, body = 'saved', headers = {['Content-Type'] = 'text/plain'}}"
        ),
    )
    first = anon.get(f"/fn/{fid}")
    assert "response_json" not in execution(api, first.headers["X-Execution-Id"])
    assert api.put(f"/api/functions/{fid}", json={"save_response": True}).status_code == 200
    second = anon.get(f"/fn/{fid}")
    saved = json.loads(execution(api, second.headers["X-Execution-Id"])["response_json"])
    assert saved["statusCode"] == 200
    assert saved["body"] == "saved"
    assert saved["headers"]["Content-Type"] == "text/plain"
    assert saved["isBase64Encoded"] is False
    listed = api.get(f"/api/functions/{fid}/executions").json()["executions"]
    assert all("response_json" not in item for item in listed)


def test_saved_response_truncated_at_1mib(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(api, handler("return {body = string.rep('a', 1048576 + 10)}"))
    api.put(f"/api/functions/{fid}", json={"save_response": True})
    response = anon.get(f"/fn/{fid}")
    assert len(response.content) == 1048576 + 10
    saved = json.loads(execution(api, response.headers["X-Execution-Id"])["response_json"])
    assert saved["body"] == "a" * 1048576 + "\n[TRUNCATED - Response exceeded 1MB]"


def test_s82_status_404_is_error_without_message(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(api, handler("return {statusCode = 404, body = 'nope'}"))
    response = anon.get(f"/fn/{fid}")
    assert (response.status_code, response.text) == (404, "nope")
    record = execution(api, response.headers["X-Execution-Id"])
    assert record["status"] == "error"
    assert "error_message" not in record


def test_s83_public_x_trigger_cron_is_recorded_as_http(
    api: httpx.Client, anon: httpx.Client
) -> None:
    fid = make(api, handler("return {}"))
    response = anon.post(f"/fn/{fid}", headers={"X-Trigger": "cron"})
    assert execution(api, response.headers["X-Execution-Id"])["trigger"] == "http"  # DECISIONS 6


def test_s84_executions_list(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(api, handler("return {}"))
    listed = api.get(f"/api/functions/{fid}/executions").json()
    assert listed == {"executions": [], "pagination": {"total": 0, "limit": 20, "offset": 0}}
    ids = [anon.get(f"/fn/{fid}").headers["X-Execution-Id"] for _ in range(3)]
    listed = api.get(f"/api/functions/{fid}/executions").json()
    assert listed["pagination"]["total"] == 3
    assert [item["id"] for item in listed["executions"]] == ids[::-1]
    assert all(item["status"] == "success" for item in listed["executions"])
    assert api.get("/api/functions/nonexistent/executions").status_code == 404


def test_s85_s86_s87_execution_endpoints(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(api, handler("log.info('first'); log.warn('second'); return {}"))
    exec_id = anon.get(f"/fn/{fid}").headers["X-Execution-Id"]
    logs = api.get(f"/api/executions/{exec_id}/logs").json()
    assert logs["id"] == exec_id
    assert [(e["level"], e["message"]) for e in logs["logs"]] == [
        ("info", "first"),
        ("warn", "second"),
    ]
    assert logs["pagination"]["total"] == 2
    for kind in ("ai-requests", "email-requests"):
        body = api.get(f"/api/executions/{exec_id}/{kind}").json()
        assert body[kind.replace("-", "_")] == []
        assert body["pagination"]["total"] == 0
        assert api.get(f"/api/executions/nonexistent/{kind}").status_code == 404
    assert api.get("/api/executions/nonexistent").json() == {"error": "Execution not found"}
    assert api.get("/api/executions/nonexistent/logs").status_code == 404


def test_decision10_status_outside_range_is_error(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(api, handler("return {statusCode = 600}"))
    response = anon.get(f"/fn/{fid}")
    assert response.status_code == 500
    assert execution(api, response.headers["X-Execution-Id"])["status"] == "error"
    zero = make(api, handler("return {statusCode = 0, body = 'zero'}"))
    assert anon.get(f"/fn/{zero}").status_code == 200


def test_decision11_base64_body_is_decoded(api: httpx.Client, anon: httpx.Client) -> None:
    encoded = base64.b64encode(b"\x00\x01binary").decode()
    fid = make(api, handler(f"return {{body = '{encoded}', isBase64Encoded = true}}"))
    assert anon.get(f"/fn/{fid}").content == b"\x00\x01binary"
    bad = make(api, handler("return {body = '***', isBase64Encoded = true}"))
    assert anon.get(f"/fn/{bad}").status_code == 500


def test_s50_s55_env_and_kv_reach_the_function(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(
        api,
        handler(
            "return {body = (env.get('GREETING') or 'unset') .. ':' .. (kv.get('color') or 'none')}"
        ),
    )
    assert anon.get(f"/fn/{fid}").text == "unset:none"
    api.put(f"/api/functions/{fid}/env", json={"env_vars": {"GREETING": "hola"}})
    api.post(f"/api/functions/{fid}/kv", json={"kvEntries": [{"key": "color", "value": "blue"}]})
    assert anon.get(f"/fn/{fid}").text == "hola:blue"


def test_kv_counter_persists_between_calls(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(
        api,
        handler(
            "local n = tonumber(kv.get('n') or '0') + 1; kv.set('n', n); "
            "return {body = tostring(n)}"
        ),
    )
    assert [anon.get(f"/fn/{fid}").text for _ in range(3)] == ["1", "2", "3"]


def test_functions_cannot_read_each_others_kv_or_globals(
    api: httpx.Client, anon: httpx.Client
) -> None:
    writer = make(api, handler("kv.set('secret', 'mine'); leaked = 'global'; return {}"))
    reader = make(
        api, handler("return {body = tostring(kv.get('secret')) .. ':' .. tostring(leaked)}")
    )
    anon.get(f"/fn/{writer}")
    assert anon.get(f"/fn/{reader}").text == "nil:nil"
    same = make(api, handler("local before = tostring(seen); seen = true; return {body = before}"))
    assert [anon.get(f"/fn/{same}").text for _ in range(3)] == ["nil", "nil", "nil"]


def test_sandbox_hides_host_environment_and_files(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(
        api,
        handler(
            "return {body = table.concat({type(io), type(os.getenv), type(os.execute), "
            "type(require), type(debug), type(python), type(dofile), type(loadfile)}, ',')}"
        ),
    )
    assert anon.get(f"/fn/{fid}").text == ",".join(["nil"] * 8)


def test_oversized_body_is_413(api: httpx.Client, anon: httpx.Client) -> None:
    fid = make(api, handler("return {}"))
    response = anon.post(f"/fn/{fid}", content=b"x" * (6 * 1024 * 1024 + 1))
    assert response.status_code == 413
    assert "error" in response.json()
    assert anon.get(f"/fn/{fid}").status_code == 200


# --------------------------------------------------------------------------- faults


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A daemon with a 1 s timeout, one worker, a queue of one and a small memory cap."""
    d = start_daemon(
        tmp_path_factory.mktemp("strict") / "data",
        env={
            "EXECUTION_TIMEOUT": "1",
            "LUNARD_WORKERS": "1",
            "LUNARD_QUEUE_SIZE": "1",
            "LUNARD_MAX_MEMORY_MB": "16",
            "LUNARD_MAX_LOG_ENTRIES": "50",
        },
    )
    yield d
    d.stop()


@pytest.mark.parametrize(
    ("label", "body"),
    [
        ("infinite loop", "while true do end"),
        ("memory bomb", "local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end"),
        ("deep recursion", "local function f(n) return f(n + 1) + 1 end return {body = f(1)}"),
        ("string bomb", "local s = 'x' while true do s = s .. s end"),
        ("non-table return", "return 42"),
        ("missing handler", None),
    ],
)
def test_faults_fail_that_call_only(strict: Daemon, label: str, body: str | None) -> None:
    with strict.client() as api, strict.client(auth=False) as anon:
        code = "x = 1" if body is None else handler(body)
        bad = make(api, code, name=label)
        good = make(api, handler("return {body = 'fine'}"))
        response = anon.get(f"/fn/{bad}")
        assert response.status_code == 500, label
        assert response.json() == {"error": "Function execution failed"}
        record = execution(api, response.headers["X-Execution-Id"])
        assert record["status"] == "error"
        assert record["error_message"]
        assert anon.get(f"/fn/{good}").text == "fine"


def test_timeout_error_is_recorded(strict: Daemon) -> None:
    with strict.client() as api, strict.client(auth=False) as anon:
        fid = make(api, handler("while true do end"))
        response = anon.get(f"/fn/{fid}")
        message = execution(api, response.headers["X-Execution-Id"])["error_message"]
        assert "timed out" in message or "deadline" in message


def test_log_flood_is_capped(strict: Daemon) -> None:
    with strict.client() as api, strict.client(auth=False) as anon:
        fid = make(api, handler("for i = 1, 10000 do log.info('line ' .. i) end return {}"))
        exec_id = anon.get(f"/fn/{fid}").headers["X-Execution-Id"]
        logs = api.get(f"/api/executions/{exec_id}/logs?limit=100").json()
        assert logs["pagination"]["total"] == 51
        assert "dropped" in logs["logs"][-1]["message"]


def test_sigkill_of_a_worker_mid_call_fails_that_call_only(strict: Daemon) -> None:
    import os
    import signal
    import threading
    import time

    with strict.client() as api, strict.client(auth=False) as anon:
        slow = make(
            api, handler("local t = os.clock() while os.clock() - t < 0.8 do end return {}")
        )
        good = make(api, handler("return {body = 'fine'}"))
        workers = [
            int(p)
            for p in os.listdir("/proc")
            if p.isdigit() and _is_worker_of(int(p), strict.proc.pid)
        ]
        assert len(workers) == 1
        result: dict[str, httpx.Response] = {}
        thread = threading.Thread(target=lambda: result.update(r=anon.get(f"/fn/{slow}")))
        thread.start()
        time.sleep(0.3)  # let the call reach the worker, then kill it mid-call
        os.kill(workers[0], signal.SIGKILL)
        thread.join(10)
        assert result["r"].status_code == 500
        record = execution(api, result["r"].headers["X-Execution-Id"])
        assert record["status"] == "error"
        assert "died" in record["error_message"] or "signal" in record["error_message"]
        deadline = time.monotonic() + 20
        while True:  # the replacement worker starts in the background
            response = anon.get(f"/fn/{good}")
            if response.status_code == 200 or time.monotonic() > deadline:
                break
        assert response.text == "fine"


def _is_worker_of(pid: int, parent: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        with open(f"/proc/{pid}/cmdline", "rb") as cmd:
            return ppid == parent and b"lunard.worker" in cmd.read()
    except (OSError, ValueError, IndexError):
        return False


def test_full_queue_answers_503_with_retry_after(strict: Daemon) -> None:
    import threading

    with strict.client() as api, strict.client(auth=False) as anon:
        slow = make(
            api, handler("local t = os.clock() while os.clock() - t < 0.3 do end return {}")
        )
        responses: list[httpx.Response] = []
        lock = threading.Lock()

        def call() -> None:
            with httpx.Client(base_url=strict.url, timeout=30) as client:
                response = client.get(f"/fn/{slow}")
            with lock:
                responses.append(response)

        threads = [threading.Thread(target=call) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        statuses = sorted(r.status_code for r in responses)
        assert 200 in statuses
        rejected = [r for r in responses if r.status_code == 503]
        assert rejected, statuses
        assert rejected[0].headers["Retry-After"].isdigit()
        assert "error" in rejected[0].json()
        assert anon.get(f"/fn/{slow}").status_code == 200


def test_deleting_a_version_or_function_deletes_its_executions(
    api: httpx.Client, anon: httpx.Client
) -> None:
    fid = make(api, handler("return {body = 'v1'}"))
    old = anon.get(f"/fn/{fid}").headers["X-Execution-Id"]
    api.put(f"/api/functions/{fid}", json={"code": handler("return {body = 'v2'}")})
    new = anon.get(f"/fn/{fid}").headers["X-Execution-Id"]
    assert api.delete(f"/api/functions/{fid}/versions/ver_{fid}_v1").status_code == 204
    assert api.get(f"/api/executions/{old}").status_code == 404
    assert api.get(f"/api/executions/{new}").status_code == 200
    assert api.delete(f"/api/functions/{fid}").status_code == 204
    assert api.get(f"/api/executions/{new}").status_code == 404
    assert api.get(f"/api/executions/{new}/logs").status_code == 404
