"""Next-run endpoint (http-api §5.16, platform §1.7, acceptance statements 56–59)."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from lunard.errors import BadRequest
from lunard.http.functions import next_run_body
from tests.daemon import Daemon
from tests.http import helpers

CODE = "function handler(ctx, event) return {statusCode = 200} end"


def create(api: httpx.Client) -> str:
    function_id: str = helpers.create(api, CODE)["id"]
    return function_id


def next_run(api: httpx.Client, function_id: str) -> dict[str, Any]:
    response = api.get(f"/api/functions/{function_id}/next-run")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


def update(api: httpx.Client, function_id: str, **fields: Any) -> None:
    assert api.put(f"/api/functions/{function_id}", json=fields).status_code == 200


def store_schedule(daemon: Daemon, function_id: str, schedule: str) -> None:
    """Write a schedule the API would refuse, as a row edited by hand would hold."""
    conn = sqlite3.connect(daemon.data_dir / "lunard.db", timeout=5)
    with conn:
        conn.execute(
            "UPDATE functions SET cron_schedule = ?, cron_status = 'active' WHERE id = ?",
            (schedule, function_id),
        )
    conn.close()


def test_s56_no_schedule(api: httpx.Client) -> None:
    function_id = create(api)
    assert next_run(api, function_id) == {"has_schedule": False}
    update(api, function_id, cron_schedule="", cron_status="active")
    assert next_run(api, function_id) == {"has_schedule": False}


def test_s57_active_schedule(api: httpx.Client) -> None:
    function_id = create(api)
    update(api, function_id, cron_schedule="*/5 * * * *", cron_status="active")
    before = int(time.time())
    body = next_run(api, function_id)
    after = int(time.time())
    assert body["has_schedule"] is True
    assert body["cron_schedule"] == "*/5 * * * *"
    assert body["cron_status"] == "active"
    assert "is_paused" not in body
    assert before < body["next_run"] <= after + 300
    assert body["next_run"] % 300 == 0
    assert body["next_run_human"].startswith("in ")


def test_s58_paused_schedule(api: httpx.Client) -> None:
    function_id = create(api)
    update(api, function_id, cron_schedule="*/5 * * * *", cron_status="active")
    update(api, function_id, cron_status="paused")
    assert next_run(api, function_id) == {
        "has_schedule": True,
        "cron_schedule": "*/5 * * * *",
        "cron_status": "paused",
        "is_paused": True,
    }


def test_new_function_with_schedule_is_paused_by_default(api: httpx.Client) -> None:
    function_id = create(api)
    update(api, function_id, cron_schedule="0 0 1 1 *")
    body = next_run(api, function_id)
    assert body["is_paused"] is True
    assert body["cron_status"] == "paused"
    assert "next_run" not in body


def test_s59_unknown_function(api: httpx.Client) -> None:
    response = api.get("/api/functions/doesnotexist00000000/next-run")
    assert response.status_code == 404
    assert response.json() == {"error": "Function not found"}


def test_schedule_change_is_visible_at_once(api: httpx.Client) -> None:
    function_id = create(api)
    update(api, function_id, cron_schedule="0 0 1 1 *", cron_status="active")
    yearly = next_run(api, function_id)["next_run"]
    update(api, function_id, cron_schedule="* * * * *")
    minutely = next_run(api, function_id)
    assert minutely["next_run"] < yearly
    # at most 60 s away (exactly 60 only when asked on a minute boundary)
    assert minutely["next_run_human"] in ("in less than a minute", "in 1 minute")


@pytest.mark.parametrize("stored", ["@every 5m", "0 0 30 2 *"])
def test_invalid_stored_schedule_is_400(api: httpx.Client, daemon: Daemon, stored: str) -> None:
    function_id = create(api)
    store_schedule(daemon, function_id, stored)
    response = api.get(f"/api/functions/{function_id}/next-run")
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid cron schedule"}


# --------------------------------------------------------------------------- body, fixed clock

NOW = datetime(2024, 1, 1, 12, 2, 30, tzinfo=UTC)  # a Monday


def test_body_active_at_fixed_time() -> None:
    body = next_run_body("*/5 * * * *", "active", NOW, "UTC")
    assert body["next_run"] == int(datetime(2024, 1, 1, 12, 5, tzinfo=UTC).timestamp())
    assert body["next_run_human"] == "in 2 minutes"


def test_body_uses_configured_time_zone() -> None:
    # 09:00 in New York is 14:00 UTC in January
    body = next_run_body("0 9 * * *", "active", NOW, "America/New_York")
    assert body["next_run"] == int(datetime(2024, 1, 1, 14, 0, tzinfo=UTC).timestamp())
    assert body["next_run_human"] == "in 1 hour"


def test_body_tz_prefix_wins_over_setting() -> None:
    body = next_run_body("TZ=Asia/Tokyo 0 0 * * *", "active", NOW, "America/New_York")
    assert body["next_run"] == int(datetime(2024, 1, 1, 15, 0, tzinfo=UTC).timestamp())


def test_body_status_null_counts_as_paused() -> None:
    assert next_run_body("* * * * *", None, NOW, "") == {
        "has_schedule": True,
        "cron_schedule": "* * * * *",
        "is_paused": True,
    }


def test_body_rejects_unparsable_active_schedule() -> None:
    with pytest.raises(BadRequest, match="Invalid cron schedule"):
        next_run_body("61 * * * *", "active", NOW, "UTC")
