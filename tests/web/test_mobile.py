"""Phone width (390 px) smoke test of the functions list and the code page (issue 10): the
pages render, their main controls are reachable, and nothing makes the page scroll sideways."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Locator, Page, expect

from tests.daemon import Daemon
from tests.web.support import Lunar, fn_row, open_function, sign_in

PHONE = {"width": 390, "height": 844}


def assert_no_sideways_scroll(page: Page) -> None:
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"page is {widths[0]}px wide in a {widths[1]}px viewport"


def assert_within_width(locator: Locator) -> None:
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box


def test_list_and_code_pages_at_phone_width(
    new_page: Callable[..., Page], daemon: Daemon, lunar: Lunar
) -> None:
    fn = lunar.create_function("pocket-sized-function", description="fits in a phone")
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    sign_in(page, daemon.api_key)
    row = fn_row(page, fn_id=fn["id"])
    expect(row).to_be_visible()
    assert_within_width(page.get_by_test_id("nav-logout"))
    assert_within_width(page.get_by_test_id("fn-new"))
    assert_no_sideways_scroll(page)
    row.click()
    editor = page.get_by_test_id("code-editor")
    expect(editor.locator(".cm-content")).to_be_visible()
    expect(editor).to_contain_text("Hello from Lua!")
    assert_within_width(page.get_by_test_id("code-save"))
    assert_within_width(page.get_by_test_id("tab-code"))
    assert_no_sideways_scroll(page)
    open_function(page, fn["id"], "settings")
    expect(page.get_by_test_id("settings-name")).to_have_value("pocket-sized-function")
    assert_no_sideways_scroll(page)
