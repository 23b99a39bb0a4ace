"""Functions CRUD (http-api §5.9–5.13, acceptance statements 29–44)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from quart_trio import QuartTrio

from lunard.config import Config
from lunard.http.app import create_app
from lunard.http.deps import AppDeps, Readiness
from lunard.http.device_auth import DeviceAuthStore
from lunard.messages import (
    DeleteRecords,
    ExecOutcome,
    ExecRequest,
    JobResponse,
    JobResult,
    ScheduleChanged,
)
from lunard.state import StateStore
from tests.http.helpers import CODE, create, fetch


def error_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    message: str = response.json()["error"]
    return message


# --------------------------------------------------------------------------- create


def test_s29_create_function(api: httpx.Client) -> None:
    response = api.post("/api/functions", json={"name": "test-function", "code": CODE})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["name"] == "test-function"
    assert len(body["id"]) == 20
    assert body["active_version"]["version"] == 1
    assert body["active_version"]["is_active"] is True
    assert body["active_version"]["code"] == CODE
    assert body["active_version"]["id"] == f"ver_{body['id']}_v1"
    assert body["env_vars"] == {}
    assert body["disabled"] is False
    assert body["save_response"] is False
    assert body["cron_status"] == "paused"
    assert "cron_schedule" not in body
    assert "retention_days" not in body
    assert "description" not in body
    assert "created_by" not in body["active_version"]


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_s30_create_rejects_blank_name(api: httpx.Client, name: str) -> None:
    response = api.post("/api/functions", json={"name": name, "code": CODE})
    assert error_of(response, 400) == "name: name cannot be empty"


def test_s30_create_rejects_long_name(api: httpx.Client) -> None:
    response = api.post("/api/functions", json={"name": "n" * 101, "code": CODE})
    assert error_of(response, 400) == "name: name cannot be longer than 100 characters"
    # measured in bytes after trimming: 50 two-byte characters are 100 bytes, padded is fine
    ok = api.post("/api/functions", json={"name": "  " + "é" * 50 + "  ", "code": CODE})
    assert ok.status_code == 200
    assert ok.json()["name"] == "  " + "é" * 50 + "  "  # stored untrimmed
    too_long = api.post("/api/functions", json={"name": "é" * 51, "code": CODE})
    assert "name cannot be longer" in error_of(too_long, 400)


@pytest.mark.parametrize("code", ["", "   \n\t"])
def test_s31_create_rejects_blank_code(api: httpx.Client, code: str) -> None:
    response = api.post("/api/functions", json={"name": "blank-code", "code": code})
    assert error_of(response, 400) == "code: code cannot be empty"


def test_s31_create_rejects_oversized_code(api: httpx.Client) -> None:
    code = "-" * (1024 * 1024 + 1)
    response = api.post("/api/functions", json={"name": "big-code", "code": code})
    assert error_of(response, 400) == "code: code cannot be longer than 1048576 bytes"
    exact = api.post("/api/functions", json={"name": "max-code", "code": code[:-1]})
    assert exact.status_code == 200


def test_s32_create_description(api: httpx.Client) -> None:
    response = api.post(
        "/api/functions", json={"name": "desc", "code": CODE, "description": "d" * 501}
    )
    assert error_of(response, 400) == (
        "description: description cannot be longer than 500 characters"
    )
    created = create(api, description="says hello")
    assert created["description"] == "says hello"
    assert fetch(api, created["id"])["description"] == "says hello"


def test_create_validation_order_name_description_code(api: httpx.Client) -> None:
    bad = {"name": "", "description": "d" * 501, "code": ""}
    assert "name:" in error_of(api.post("/api/functions", json=bad), 400)
    bad["name"] = "ok"
    assert "description:" in error_of(api.post("/api/functions", json=bad), 400)
    bad["description"] = "ok"
    assert "code:" in error_of(api.post("/api/functions", json=bad), 400)


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"[]", b'"name"', b'{"name": 5, "code": "x"}', b'{"name": "a", "code": ["x"]}'],
)
def test_create_rejects_malformed_body(api: httpx.Client, body: bytes) -> None:
    before = api.get("/api/functions").json()["pagination"]["total"]
    response = api.post("/api/functions", content=body)
    assert error_of(response, 400) == "Invalid request body"
    assert api.get("/api/functions").json()["pagination"]["total"] == before


def test_create_missing_fields_are_validation_errors(api: httpx.Client) -> None:
    assert error_of(api.post("/api/functions", json={"code": CODE}), 400) == (
        "name: name cannot be empty"
    )
    assert error_of(api.post("/api/functions", json={"name": "x"}), 400) == (
        "code: code cannot be empty"
    )


def test_routes_require_auth(anon: httpx.Client, api: httpx.Client) -> None:
    function_id = create(api)["id"]
    for method, path in [
        ("POST", "/api/functions"),
        ("GET", f"/api/functions/{function_id}"),
        ("PUT", f"/api/functions/{function_id}"),
        ("DELETE", f"/api/functions/{function_id}"),
    ]:
        response = anon.request(method, path, json={"name": "x"})
        assert error_of(response, 401) == "Authentication required"
    assert fetch(api, function_id)["id"] == function_id


# --------------------------------------------------------------------------- list and get


def test_s33_list_functions(api: httpx.Client) -> None:
    created = create(api)
    response = api.get("/api/functions")
    assert response.status_code == 200
    body = response.json()
    assert body["functions"]
    assert set(body["pagination"]) == {"total", "limit", "offset"}
    assert body["pagination"]["total"] >= 1
    first = body["functions"][0]  # newest first
    assert first["id"] == created["id"]
    assert first["env_vars"] == {}
    assert first["active_version"]["code"] == CODE


def test_list_is_newest_first_and_pages(api: httpx.Client) -> None:
    ids = [create(api)["id"] for _ in range(3)]
    page = api.get("/api/functions?limit=2&offset=0").json()
    assert [f["id"] for f in page["functions"]] == ids[::-1][:2]
    second = api.get("/api/functions?limit=2&offset=2").json()
    assert second["functions"][0]["id"] == ids[0]
    past_end = api.get("/api/functions?offset=100000").json()
    assert past_end["functions"] == []
    assert past_end["pagination"]["total"] == page["pagination"]["total"]


@pytest.mark.parametrize(
    ("query", "limit", "offset"),
    [
        ("limit=1000", 100, 0),
        ("limit=0", 20, 0),
        ("limit=abc", 20, 0),
        ("limit=-3", 20, 0),
        ("offset=-5", 20, 0),
        ("offset=xyz", 20, 0),
        ("limit=7&offset=3", 7, 3),
    ],
)
def test_s34_pagination_normalised(api: httpx.Client, query: str, limit: int, offset: int) -> None:
    pagination = api.get(f"/api/functions?{query}").json()["pagination"]
    assert (pagination["limit"], pagination["offset"]) == (limit, offset)


def test_s35_get_function(api: httpx.Client) -> None:
    created = create(api)
    body = fetch(api, created["id"])
    assert body["id"] == created["id"]
    assert body["env_vars"] == {}
    assert body["scoped_data"] == {}
    assert isinstance(body["global_data"], dict)
    assert body["active_version"] == created["active_version"]
    response = api.get("/api/functions/doesnotexist00000000")
    assert error_of(response, 404) == "Function not found"


# --------------------------------------------------------------------------- update


def test_s36_update_name(api: httpx.Client) -> None:
    function_id = create(api)["id"]
    response = api.put(f"/api/functions/{function_id}", json={"name": "updated-name"})
    assert response.status_code == 200
    assert response.content == b""
    assert "Content-Type" not in response.headers
    assert fetch(api, function_id)["name"] == "updated-name"


def test_s37_update_requires_a_field(api: httpx.Client) -> None:
    function_id = create(api)["id"]
    for body in ({}, {"name": None, "unknown": 1}):
        response = api.put(f"/api/functions/{function_id}", json=body)
        assert error_of(response, 400) == (
            "request: at least one field must be provided for update"
        )


def test_s38_update_disabled(api: httpx.Client) -> None:
    function_id = create(api)["id"]
    assert api.put(f"/api/functions/{function_id}", json={"disabled": True}).status_code == 200
    assert fetch(api, function_id)["disabled"] is True
    assert api.put(f"/api/functions/{function_id}", json={"disabled": False}).status_code == 200
    assert fetch(api, function_id)["disabled"] is False


def test_s39_update_retention_days(api: httpx.Client) -> None:
    function_id = create(api)["id"]
    for days in (30, 7, 15, 365):
        response = api.put(f"/api/functions/{function_id}", json={"retention_days": days})
        assert response.status_code == 200
        assert fetch(api, function_id)["retention_days"] == days
    for days in (0, 1, 5, 60, 100, 500, -1):
        response = api.put(f"/api/functions/{function_id}", json={"retention_days": days})
        assert error_of(response, 400) == (
            "retention_days: retention_days must be one of: [7 15 30 365]"
        )
    assert fetch(api, function_id)["retention_days"] == 365


def test_s40_update_save_response(api: httpx.Client) -> None:
    function_id = create(api)["id"]
    assert api.put(f"/api/functions/{function_id}", json={"save_response": True}).is_success
    assert fetch(api, function_id)["save_response"] is True
    assert api.put(f"/api/functions/{function_id}", json={"save_response": False}).is_success
    assert fetch(api, function_id)["save_response"] is False


@pytest.mark.parametrize(
    "schedule", ["*/5 * * * *", "0 * * * *", "0 0 * * *", "0 9 * * 1-5", "0 0 1 * *", ""]
)
def test_s41_cron_schedule_accepted(api: httpx.Client, schedule: str) -> None:
    function_id = create(api)["id"]
    response = api.put(f"/api/functions/{function_id}", json={"cron_schedule": schedule})
    assert response.status_code == 200
    assert fetch(api, function_id)["cron_schedule"] == schedule


@pytest.mark.parametrize(
    ("schedule", "detail"),
    [
        ("* * *", "expected exactly 5 fields, found 3: [* * *]"),
        ("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"),
        ("60 * * * *", "end of range (60) above maximum (59): 60"),
        ("* 25 * * *", "end of range (25) above maximum (23): 25"),
        ("not a cron", "expected exactly 5 fields, found 3: [not a cron]"),
        ("@hourly", "parser does not accept descriptors: @hourly"),
        ("0 0 * * 7", "end of range (7) above maximum (6): 7"),
    ],
)
def test_s41_cron_schedule_validation(api: httpx.Client, schedule: str, detail: str) -> None:
    function_id = create(api)["id"]
    response = api.put(f"/api/functions/{function_id}", json={"cron_schedule": schedule})
    assert error_of(response, 400) == f"cron_schedule: invalid cron expression: {detail}"
    assert "cron_schedule" not in fetch(api, function_id)


def test_s42_cron_status(api: httpx.Client) -> None:
    function_id = create(api)["id"]
    for status in ("active", "paused"):
        response = api.put(f"/api/functions/{function_id}", json={"cron_status": status})
        assert response.status_code == 200
        assert fetch(api, function_id)["cron_status"] == status
    both = {"cron_schedule": "0 * * * *", "cron_status": "active"}
    assert api.put(f"/api/functions/{function_id}", json=both).status_code == 200
    for status in ("stopped", "enabled", "", "Active"):
        response = api.put(f"/api/functions/{function_id}", json={"cron_status": status})
        assert error_of(response, 400) == "cron_status: cron_status must be one of: [active paused]"
    assert fetch(api, function_id)["cron_status"] == "active"


def test_s43_update_code_creates_active_version(api: httpx.Client) -> None:
    created = create(api)
    function_id = created["id"]
    for n in (2, 3):
        new_code = f"function handler() return {{statusCode = {200 + n}}} end"
        assert api.put(f"/api/functions/{function_id}", json={"code": new_code}).is_success
        active = fetch(api, function_id)["active_version"]
        assert (active["version"], active["code"]) == (n, new_code)
    versions = api.get(f"/api/functions/{function_id}/versions").json()["versions"]
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert [v["is_active"] for v in versions] == [True, False, False]


def test_update_identical_code_still_creates_version(api: httpx.Client) -> None:
    function_id = create(api)["id"]
    assert api.put(f"/api/functions/{function_id}", json={"code": CODE}).is_success
    assert fetch(api, function_id)["active_version"]["version"] == 2


def test_code_only_update_keeps_updated_at(api: httpx.Client) -> None:
    created = create(api)
    function_id = created["id"]
    api.put(f"/api/functions/{function_id}", json={"code": "return 1"})
    assert fetch(api, function_id)["updated_at"] == created["updated_at"]


def test_description_can_be_emptied(api: httpx.Client) -> None:
    function_id = create(api, description="something")["id"]
    assert api.put(f"/api/functions/{function_id}", json={"description": ""}).is_success
    assert fetch(api, function_id)["description"] == ""
    assert api.put(f"/api/functions/{function_id}", json={"description": None}).status_code == 400
    assert fetch(api, function_id)["description"] == ""


@pytest.mark.parametrize(
    "body",
    [
        {"disabled": "yes"},
        {"retention_days": "30"},
        {"retention_days": 30.5},
        {"retention_days": True},
        {"save_response": 1},
        {"name": ["a"]},
        {"cron_status": 1},
    ],
)
def test_update_type_mismatch_is_invalid_body(api: httpx.Client, body: dict[str, Any]) -> None:
    created = create(api)
    response = api.put(f"/api/functions/{created['id']}", json={"name": "changed", **body})
    assert error_of(response, 400) == "Invalid request body"
    assert fetch(api, created["id"])["name"] == created["name"]


def test_rejected_update_leaves_function_unchanged(api: httpx.Client) -> None:
    created = create(api)
    function_id = created["id"]
    before = fetch(api, function_id)
    bodies = [
        {"name": "new-name", "code": "return 2", "retention_days": 3},
        {"name": "new-name", "disabled": True, "cron_schedule": "* * *"},
        {"code": "return 2", "cron_status": "running"},
        {"name": "x" * 101, "save_response": True},
    ]
    for body in bodies:
        assert api.put(f"/api/functions/{function_id}", json=body).status_code == 400
    assert api.put(f"/api/functions/{function_id}", content=b"{not json").status_code == 400
    assert fetch(api, function_id) == before
    versions = api.get(f"/api/functions/{function_id}/versions").json()["versions"]
    assert len(versions) == 1


def test_update_validates_before_existence(api: httpx.Client) -> None:
    missing = "/api/functions/doesnotexist00000000"
    assert "retention_days" in error_of(api.put(missing, json={"retention_days": 2}), 400)
    assert error_of(api.put(missing, json={"name": "x"}), 404) == "Function not found"
    # DECISIONS 8 as extended: upstream answers 500 "Failed to create new version" here.
    assert error_of(api.put(missing, json={"code": "x"}), 404) == "Function not found"


def test_update_all_fields_together(api: httpx.Client) -> None:
    function_id = create(api)["id"]
    body = {
        "name": "everything",
        "description": "all",
        "code": "return 3",
        "disabled": True,
        "retention_days": 15,
        "cron_schedule": "0 9 * * MON-FRI",
        "cron_status": "active",
        "save_response": True,
    }
    assert api.put(f"/api/functions/{function_id}", json=body).status_code == 200
    got = fetch(api, function_id)
    for key, value in body.items():
        if key != "code":
            assert got[key] == value
    assert got["active_version"]["code"] == "return 3"


# --------------------------------------------------------------------------- delete


def test_s44_delete_function(api: httpx.Client) -> None:
    function_id = create(api)["id"]
    assert api.post(f"/fn/{function_id}").status_code == 200
    response = api.delete(f"/api/functions/{function_id}")
    assert response.status_code == 204
    assert response.content == b""
    assert error_of(api.get(f"/api/functions/{function_id}"), 404) == "Function not found"
    listed = api.get("/api/functions?limit=100").json()["functions"]
    assert function_id not in {f["id"] for f in listed}
    versions = api.get(f"/api/functions/{function_id}/versions")
    assert versions.status_code == 404
    assert api.post(f"/fn/{function_id}").status_code == 404


def test_delete_unknown_function_is_404(api: httpx.Client) -> None:
    response = api.delete("/api/functions/doesnotexist00000000")
    assert error_of(response, 404) == "Function not found"


# --------------------------------------------------------------------------- notifications


@pytest.fixture
def wired_app(tmp_path: Path) -> Iterator[tuple[QuartTrio, Inboxes]]:
    """The app in-process, with the scheduler's and the sink's inboxes held by the test."""
    state = StateStore.open(tmp_path)
    scheduler_send, scheduler_recv = trio.open_memory_channel[ScheduleChanged](1)
    sink_send, sink_recv = trio.open_memory_channel[Any](10)
    app_deps = AppDeps(
        config=Config(data_dir=tmp_path),
        state=state,
        api_key="in-process-key",
        readiness=Readiness(),
        device_auth=DeviceAuthStore(),
        sink=sink_send,
        scheduler=scheduler_send,
    )
    yield create_app(app_deps), Inboxes(scheduler_recv, sink_recv)
    state.close()


@dataclass
class Inboxes:
    scheduler: trio.MemoryReceiveChannel[ScheduleChanged]
    sink: trio.MemoryReceiveChannel[Any]

    def drain_scheduler(self) -> list[str]:
        changed = []
        while True:
            try:
                changed.append(self.scheduler.receive_nowait().function_id)
            except trio.WouldBlock:
                return changed

    sunk: list[Any] = field(default_factory=list)

    async def answer_sink(self) -> None:
        """Stand in for the sink: keep each message (without its reply channel) and answer
        "0 deleted", as the sink does once it has deleted (the request waits for that)."""
        async for message in self.sink:
            self.sunk.append(dataclasses.replace(message, reply=None))
            if message.reply is not None:
                message.reply.send_nowait(0)

    def drain_sink(self) -> list[Any]:
        messages, self.sunk = self.sunk, []
        return messages


AUTH = {"Authorization": "Bearer in-process-key"}


async def test_writes_notify_scheduler_and_sink(
    wired_app: tuple[QuartTrio, Inboxes], nursery: trio.Nursery
) -> None:
    app, inboxes = wired_app
    nursery.start_soon(inboxes.answer_sink)
    client = app.test_client()
    created = await client.post("/api/functions", json={"name": "n", "code": CODE}, headers=AUTH)
    function_id = (await created.get_json())["id"]
    assert inboxes.drain_scheduler() == [function_id]

    path = f"/api/functions/{function_id}"
    for body, notified in [
        ({"name": "renamed"}, False),
        ({"code": "return 2"}, False),
        ({"cron_schedule": "* * * * *"}, True),
        ({"cron_status": "active"}, True),
        ({"disabled": True}, True),
        ({"cron_status": "bogus"}, False),  # rejected: nothing changed, nothing sent
    ]:
        await client.put(path, json=body, headers=AUTH)
        assert inboxes.drain_scheduler() == ([function_id] if notified else []), body

    version = f"ver_{function_id}_v1"
    response = await client.delete(f"{path}/versions/{version}", headers=AUTH)
    assert response.status_code == 204
    assert inboxes.drain_sink() == [DeleteRecords(version_id=version)]

    assert (await client.delete(path, headers=AUTH)).status_code == 204
    assert inboxes.drain_scheduler() == [function_id]
    assert inboxes.drain_sink() == [DeleteRecords(function_id=function_id)]

    assert (await client.delete(path, headers=AUTH)).status_code == 404
    assert inboxes.drain_sink() == []


async def test_full_scheduler_inbox_does_not_fail_requests(
    wired_app: tuple[QuartTrio, Inboxes], caplog: pytest.LogCaptureFixture
) -> None:
    app, inboxes = wired_app
    client = app.test_client()
    ids = []
    for name in ("a", "b", "c"):  # the inbox holds one message
        response = await client.post(
            "/api/functions", json={"name": name, "code": CODE}, headers=AUTH
        )
        assert response.status_code == 200
        ids.append((await response.get_json())["id"])
    update = await client.put(
        f"/api/functions/{ids[0]}", json={"cron_status": "active"}, headers=AUTH
    )
    assert update.status_code == 200
    assert inboxes.drain_scheduler() == ids[:1]
    assert f"scheduler inbox full; schedule change of {ids[1]} not sent" in caplog.text


async def test_function_without_active_version(wired_app: tuple[QuartTrio, Inboxes]) -> None:
    app, _ = wired_app
    state: StateStore = app.extensions["lunard"].state
    state.call_sync(
        lambda c: c.execute(
            "INSERT INTO functions (id, name, created_at, updated_at) "
            "VALUES ('noversions0000000000', 'bare', 1, 1)"
        )
    )
    client = app.test_client()
    listed = await (await client.get("/api/functions", headers=AUTH)).get_json()
    assert listed["functions"][0]["active_version"] == {
        "id": "",
        "function_id": "",
        "version": 0,
        "code": "",
        "created_at": 0,
        "is_active": False,
    }
    response = await client.get("/api/functions/noversions0000000000", headers=AUTH)
    assert response.status_code == 500
    assert await response.get_json() == {"error": "No active version found"}


# --------------------------------------------------------------------------- max_concurrency

MAX_CONCURRENCY_RANGE = (
    "max_concurrency: max_concurrency must be between 0 and 10000, or null for no limit"
)


def test_max_concurrency_is_null_unless_set_on_create(api: httpx.Client) -> None:
    plain = create(api)
    assert plain["max_concurrency"] is None
    assert fetch(api, plain["id"])["max_concurrency"] is None
    capped = create(api, max_concurrency=3)
    assert capped["max_concurrency"] == 3
    assert fetch(api, capped["id"])["max_concurrency"] == 3
    listed = api.get("/api/functions?limit=100").json()["functions"]
    assert {f["id"]: f["max_concurrency"] for f in listed}[capped["id"]] == 3


def test_max_concurrency_is_updated_alone_and_cleared_with_null(api: httpx.Client) -> None:
    function_id = create(api)["id"]
    path = f"/api/functions/{function_id}"
    before = fetch(api, function_id)
    response = api.put(path, json={"max_concurrency": 2})  # the only field: a valid update
    assert (response.status_code, response.content) == (200, b"")
    after = fetch(api, function_id)
    assert after["max_concurrency"] == 2
    assert after["updated_at"] >= before["updated_at"]
    assert api.put(path, json={"name": "renamed"}).status_code == 200  # absent: unchanged
    assert fetch(api, function_id)["max_concurrency"] == 2
    assert api.put(path, json={"max_concurrency": None}).status_code == 200  # null: no cap
    assert fetch(api, function_id)["max_concurrency"] is None


def test_max_concurrency_zero_answers_429_and_runs_nothing(
    api: httpx.Client, anon: httpx.Client
) -> None:
    function_id = create(api)["id"]
    path = f"/api/functions/{function_id}"
    assert api.put(path, json={"max_concurrency": 0}).status_code == 200
    response = anon.post(f"/fn/{function_id}")
    assert error_of(response, 429) == "Function is throttled (max_concurrency is 0)"
    assert "X-Execution-Id" not in response.headers
    assert api.get(f"{path}/executions").json()["pagination"]["total"] == 0

    # The next call sees the change: nothing about the function is cached between calls.
    assert api.put(path, json={"max_concurrency": 1}).status_code == 200
    assert anon.post(f"/fn/{function_id}").status_code == 200
    assert api.put(path, json={"max_concurrency": 0}).status_code == 200
    assert anon.post(f"/fn/{function_id}").status_code == 429
    assert api.put(path, json={"max_concurrency": None}).status_code == 200
    assert anon.post(f"/fn/{function_id}").status_code == 200


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, MAX_CONCURRENCY_RANGE),
        (10_001, MAX_CONCURRENCY_RANGE),
        (2**70, MAX_CONCURRENCY_RANGE),
        ("2", "Invalid request body"),
        (True, "Invalid request body"),
        (1.5, "Invalid request body"),
        ([1], "Invalid request body"),
    ],
)
def test_max_concurrency_rejects_invalid_values(
    api: httpx.Client, value: Any, message: str
) -> None:
    body = {"name": "capped", "code": CODE, "max_concurrency": value}
    assert error_of(api.post("/api/functions", json=body), 400) == message
    created = create(api, max_concurrency=4)
    path = f"/api/functions/{created['id']}"
    assert error_of(api.put(path, json={"max_concurrency": value}), 400) == message
    assert error_of(api.put(path, json={"name": "x", "max_concurrency": value}), 400) == message
    assert fetch(api, created["id"])["max_concurrency"] == 4
    assert fetch(api, created["id"])["name"] == created["name"]


def test_max_concurrency_of_an_unknown_function(api: httpx.Client) -> None:
    missing = "/api/functions/doesnotexist00000000"
    assert error_of(api.put(missing, json={"max_concurrency": -1}), 400) == MAX_CONCURRENCY_RANGE
    assert error_of(api.put(missing, json={"max_concurrency": 1}), 404) == "Function not found"


async def test_max_concurrency_travels_with_the_call_to_the_pool(tmp_path: Path) -> None:
    """The pool enforces the cap (tests/test_fairness.py); here: /fn hands it over."""
    state = StateStore.open(tmp_path)
    pool_send, pool_recv = trio.open_memory_channel[ExecRequest](1)
    app = create_app(
        AppDeps(
            config=Config(data_dir=tmp_path),
            state=state,
            api_key="in-process-key",
            readiness=Readiness(),
            device_auth=DeviceAuthStore(),
            pool=pool_send,
        )
    )
    client = app.test_client()
    created = await client.post(
        "/api/functions", json={"name": "n", "code": CODE, "max_concurrency": 2}, headers=AUTH
    )
    function_id = (await created.get_json())["id"]
    statuses: list[int] = []

    async def call() -> None:
        statuses.append((await client.post(f"/fn/{function_id}")).status_code)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(call)
        with trio.fail_after(10):
            request = await pool_recv.receive()
        assert (request.job.function_id, request.max_concurrency) == (function_id, 2)
        result = JobResult(request.job.execution_id, JobResponse(200, {}, b"ok", False), None)
        await request.reply.send(ExecOutcome(result, duration_ms=1))
    assert statuses == [200]
    state.close()
