"""execution_history.feature (platform §9): a function "audited" open on its Executions tab,
plus the execution detail's logs and error panel (§7.3)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.web.support import AUDITED_LUA, Lunar, open_function, route_re


@pytest.fixture
def audited(lunar: Lunar) -> dict[str, Any]:
    return lunar.create_function("audited", code=AUDITED_LUA)


def test_never_run_has_no_rows(signed_in: Page, audited: dict[str, Any]) -> None:
    open_function(signed_in, audited["id"], "executions")
    expect(signed_in).to_have_url(route_re(f"/functions/{audited['id']}/executions"))
    expect(signed_in.get_by_text(re.compile("No executions yet"))).to_be_visible()
    expect(signed_in.get_by_test_id("exec-row")).to_have_count(0)


def test_one_call_is_one_success_row(
    signed_in: Page, lunar: Lunar, audited: dict[str, Any]
) -> None:
    assert lunar.call(audited["id"]).status_code == 200
    open_function(signed_in, audited["id"], "executions")
    rows = signed_in.get_by_test_id("exec-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-status", "success")
    expect(rows.first).to_contain_text(re.compile("success", re.I))


def test_each_call_is_a_separate_row(
    signed_in: Page, lunar: Lunar, audited: dict[str, Any]
) -> None:
    for _ in range(3):
        assert lunar.call(audited["id"]).status_code == 200
    open_function(signed_in, audited["id"], "executions")
    expect(signed_in.get_by_test_id("exec-row")).to_have_count(3)


def test_inspecting_the_newest_execution(
    signed_in: Page, lunar: Lunar, audited: dict[str, Any]
) -> None:
    assert lunar.call(audited["id"], "GET").status_code == 200
    newest = lunar.call(audited["id"], "POST")
    assert newest.status_code == 200
    open_function(signed_in, audited["id"], "executions")
    rows = signed_in.get_by_test_id("exec-row")
    expect(rows).to_have_count(2)
    rows.first.click()
    exec_id = newest.headers["X-Execution-Id"]
    expect(signed_in).to_have_url(re.compile(r"#!/executions/" + re.escape(exec_id)))
    expect(signed_in.get_by_test_id("exec-detail-status")).to_contain_text(
        re.compile("success", re.I)
    )
    expect(signed_in.get_by_test_id("exec-logs")).to_contain_text("audit-line POST")


def test_failed_execution_shows_error_status_and_message(
    signed_in: Page, lunar: Lunar, audited: dict[str, Any]
) -> None:
    assert lunar.call(audited["id"]).status_code == 200
    failed = lunar.call(audited["id"], params={"fail": "1"})
    assert failed.status_code == 500
    open_function(signed_in, audited["id"], "executions")
    error_rows = signed_in.locator('[data-testid="exec-row"][data-status="error"]')
    expect(error_rows).to_have_count(1)
    expect(signed_in.locator('[data-testid="exec-row"][data-status="success"]')).to_have_count(1)
    error_rows.click()
    expect(signed_in).to_have_url(route_re(f"/executions/{failed.headers['X-Execution-Id']}"))
    expect(signed_in.get_by_test_id("exec-detail-status")).to_contain_text(
        re.compile("error", re.I)
    )
    expect(signed_in.get_by_text(re.compile("boom-on-purpose")).first).to_be_visible()
