"""versions.feature (platform §9) with a function "evolving" open, plus the Code page's dirty
state and Ctrl/Cmd+S (issue 10)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.web.support import (
    HELLO_LUA,
    METHOD_LUA,
    Lunar,
    api_call,
    open_function,
    route_re,
    set_code,
)

V2_LUA = METHOD_LUA.replace("event.method", '"second version"')


@pytest.fixture
def evolving(lunar: Lunar) -> dict[str, Any]:
    return lunar.create_function("evolving", code=HELLO_LUA)


def version_row(page: Page, number: int) -> Locator:
    return page.locator(f'[data-testid="version-row"][data-version="{number}"]')


def save_code(page: Page, fn_id: str) -> None:
    with api_call(page, "PUT", rf"^/api/functions/{fn_id}$") as saved:
        page.get_by_test_id("code-save").click()
    assert saved.value.status == 200, saved.value.text()


def test_code_page_shows_the_active_code_and_the_api_reference(
    signed_in: Page, evolving: dict[str, Any]
) -> None:
    open_function(signed_in, evolving["id"])
    editor = signed_in.get_by_test_id("code-editor")
    expect(editor).to_contain_text("Hello from Lua!")
    expect(signed_in.locator('a[href$="/llms.txt"]').first).to_be_visible()


def test_save_is_enabled_only_when_the_code_changed(
    signed_in: Page, evolving: dict[str, Any]
) -> None:
    open_function(signed_in, evolving["id"])
    expect(signed_in.get_by_test_id("code-editor")).to_contain_text("Hello from Lua!")
    expect(signed_in.get_by_test_id("code-save")).to_be_disabled()
    set_code(signed_in, V2_LUA)
    expect(signed_in.get_by_test_id("code-save")).to_be_enabled()
    set_code(signed_in, HELLO_LUA)
    expect(signed_in.get_by_test_id("code-save")).to_be_disabled()


def test_edit_creates_a_version(signed_in: Page, lunar: Lunar, evolving: dict[str, Any]) -> None:
    open_function(signed_in, evolving["id"])
    set_code(signed_in, V2_LUA)
    save_code(signed_in, evolving["id"])
    assert lunar.call(evolving["id"]).text == "second version"
    signed_in.get_by_test_id("tab-versions").click()
    expect(signed_in.get_by_test_id("version-row")).to_have_count(2)
    expect(version_row(signed_in, 2).get_by_test_id("version-activate")).to_have_count(0)
    expect(version_row(signed_in, 1).get_by_test_id("version-activate")).to_have_count(1)


def test_ctrl_s_saves_a_version(signed_in: Page, lunar: Lunar, evolving: dict[str, Any]) -> None:
    open_function(signed_in, evolving["id"])
    set_code(signed_in, V2_LUA)
    with api_call(signed_in, "PUT", rf"^/api/functions/{evolving['id']}$") as saved:
        signed_in.keyboard.press("ControlOrMeta+s")
    assert saved.value.status == 200
    assert [v["version"] for v in lunar.versions(evolving["id"])] == [2, 1]


def test_rollback_to_v1(signed_in: Page, lunar: Lunar, evolving: dict[str, Any]) -> None:
    lunar.update(evolving["id"], code=V2_LUA)
    assert lunar.call(evolving["id"]).text == "second version"
    open_function(signed_in, evolving["id"], "versions")
    expect(signed_in.get_by_test_id("version-row")).to_have_count(2)
    with api_call(signed_in, "POST", r"/versions/[^/]+/activate$") as activated:
        version_row(signed_in, 1).get_by_test_id("version-activate").click()
    assert activated.value.status == 200
    expect(version_row(signed_in, 1).get_by_test_id("version-activate")).to_have_count(0)
    expect(version_row(signed_in, 2).get_by_test_id("version-activate")).to_have_count(1)
    r = lunar.call(evolving["id"])
    assert r.status_code == 200
    assert "Hello from Lua!" in r.text


def test_compare_two_versions(signed_in: Page, lunar: Lunar, evolving: dict[str, Any]) -> None:
    lunar.update(evolving["id"], code=V2_LUA)
    open_function(signed_in, evolving["id"], "versions")
    version_row(signed_in, 2).get_by_test_id("version-select").check()
    version_row(signed_in, 1).get_by_test_id("version-select").check()
    signed_in.get_by_test_id("version-compare").click()
    expect(signed_in).to_have_url(route_re(f"/functions/{evolving['id']}/diff/1/2"))
    table = signed_in.get_by_test_id("diff-table")
    expect(table).to_be_visible()
    expect(table).to_contain_text("second version")
