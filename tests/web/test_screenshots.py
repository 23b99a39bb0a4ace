"""The README's three screenshots (list.png, code.png, analytics.png), taken with the suite's
own helper from a small realistic data set. Runs only when LUNARD_SCREENSHOTS=<dir> is set:

    LUNARD_SCREENSHOTS=docs/screenshots .venv/bin/pytest -q tests/web/test_screenshots.py
"""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import Page, expect

from tests.web.support import (
    AUDITED_LUA,
    ECHO_LUA,
    HELLO_LUA,
    KV_LUA,
    Lunar,
    expect_chart_drawn,
    fn_row,
    open_function,
    open_route,
    screenshot,
)

pytestmark = pytest.mark.skipif(
    not os.environ.get("LUNARD_SCREENSHOTS"), reason="set LUNARD_SCREENSHOTS=<dir> to take them"
)


def test_readme_screenshots(signed_in: Page, lunar: Lunar) -> None:
    hello = lunar.create_function(
        "hello-world", code=HELLO_LUA, description="Greets every caller in JSON"
    )
    lunar.create_function("echo", code=ECHO_LUA, description="Echoes method, path and body")
    counter = lunar.create_function(
        "color-of-the-day", code=KV_LUA, description="Colour of the day, read from the KV store"
    )
    lunar.update(counter["id"], disabled=True)
    orders = lunar.create_function(
        "orders-webhook", code=AUDITED_LUA, description="Receives order events"
    )
    lunar.update(orders["id"], code=AUDITED_LUA + "\n-- v2\n")
    for i in range(40):
        params = {"fail": "1"} if i % 9 == 4 else {}
        lunar.call(orders["id"], "POST", params=params)
    for _ in range(5):
        lunar.call(hello["id"])

    open_route(signed_in, "/functions")
    expect(fn_row(signed_in, fn_id=orders["id"])).to_be_visible()
    expect(signed_in.get_by_test_id("fn-row")).to_have_count(4)
    assert screenshot(signed_in, "list") is not None

    open_function(signed_in, hello["id"])
    expect(signed_in.get_by_test_id("code-editor")).to_contain_text("Hello from Lua!")
    screenshot(signed_in, "code")

    open_function(signed_in, orders["id"], "analytics")
    expect(signed_in.get_by_test_id("analytics-calls")).to_contain_text("40")
    expect_chart_drawn(signed_in)
    screenshot(signed_in, "analytics")
