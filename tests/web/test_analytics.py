"""Beyond Lunar (issue 10): the Analytics tab shows the figures of a known set of calls, the
overview lists the function, and the SQL console runs a query and shows a refusal."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.web.support import (
    AUDITED_LUA,
    Lunar,
    expect_chart_drawn,
    open_function,
    open_route,
    set_code,
)


@pytest.fixture(scope="module")
def measured(daemon: Any) -> dict[str, Any]:
    """A function called 3 times successfully and once with an error (module-wide)."""
    with daemon.client() as api, daemon.client(auth=False) as anon:
        lunar = Lunar(api, anon)
        fn = lunar.create_function("measured", code=AUDITED_LUA)
        for _ in range(3):
            assert lunar.call(fn["id"]).status_code == 200
        assert lunar.call(fn["id"], params={"fail": "1"}).status_code == 500
        report = api.get(f"/api/functions/{fn['id']}/analytics").json()
    assert report["invocations"] == 4
    assert report["errors"] == 1
    return {**fn, "report": report}


def test_analytics_tab_shows_the_figures_of_the_calls(
    signed_in: Page, measured: dict[str, Any]
) -> None:
    open_function(signed_in, measured["id"], "analytics")
    expect(signed_in).to_have_url(re.compile(rf"#!/functions/{measured['id']}/analytics"))
    expect(signed_in.get_by_test_id("analytics-calls")).to_have_text(re.compile(r"(^|\D)4(\D|$)"))
    expect_chart_drawn(signed_in)
    p95 = signed_in.get_by_test_id("analytics-p95")
    expect(p95).to_have_text(re.compile(r"\d"))
    # One error in four calls: a 25% error rate is shown somewhere on the page.
    expect(signed_in.get_by_text(re.compile(r"25(\.0+)?\s?%")).first).to_be_visible()
    # The top error names the failure.
    expect(signed_in.get_by_text(re.compile("boom-on-purpose")).first).to_be_visible()


def test_analytics_p95_matches_the_api(signed_in: Page, measured: dict[str, Any]) -> None:
    p95_ms = measured["report"]["duration_ms"]["p95"]
    open_function(signed_in, measured["id"], "analytics")
    text = signed_in.get_by_test_id("analytics-p95")
    expect(text).to_have_text(re.compile(r"\d"))
    shown = text.inner_text()
    number = float(re.search(r"\d+(\.\d+)?", shown).group(0))  # type: ignore[union-attr]
    value_ms = number * 1000 if re.search(r"\d\s*s\b", shown) else number
    assert abs(value_ms - p95_ms) <= max(1.0, p95_ms * 0.05), (shown, p95_ms)


def test_overview_lists_the_function(signed_in: Page, measured: dict[str, Any]) -> None:
    open_route(signed_in, "/analytics")
    expect(signed_in.get_by_text("measured", exact=True).first).to_be_visible()


def test_sql_console_runs_a_query(signed_in: Page, measured: dict[str, Any]) -> None:
    open_route(signed_in, "/sql")
    set_code(
        signed_in,
        "SELECT status, count(*) AS n FROM executions "
        f"WHERE function_id = '{measured['id']}' GROUP BY status ORDER BY status",
        testid="sql-input",
    )
    signed_in.get_by_test_id("sql-run").click()
    result = signed_in.get_by_test_id("sql-result")
    expect(result).to_contain_text("error")
    expect(result).to_contain_text("success")
    success_row = result.locator("tr").filter(
        has=signed_in.locator("td").get_by_text("success", exact=True)
    )
    expect(success_row).to_contain_text("3")
    expect(signed_in.get_by_test_id("sql-error")).to_have_count(0)


def test_sql_console_shows_a_refusal(signed_in: Page, measured: dict[str, Any]) -> None:
    open_route(signed_in, "/sql")
    set_code(signed_in, "DELETE FROM executions", testid="sql-input")
    signed_in.get_by_test_id("sql-run").click()
    expect(signed_in.get_by_test_id("sql-error")).to_contain_text("only read-only SELECT")
    count = signed_in.evaluate(
        "id => fetch('/api/functions/' + id + '/executions').then(r => r.json())"
        ".then(b => b.pagination.total)",
        measured["id"],
    )
    assert count == 4
