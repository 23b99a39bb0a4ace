"""stored_data.feature (platform §9): the Data tab's two KV cards and the schedule card,
plus a Data tab round trip between the UI and the API."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.web.support import KV_LUA, Lunar, api_call, card_of, open_function, route_re


@pytest.fixture
def stateful(lunar: Lunar) -> dict[str, Any]:
    return lunar.create_function("stateful", code=KV_LUA)


def scoped_card(page: Page) -> Locator:
    return card_of(page, "kv-scoped-add", "kv-global-add")


def global_card(page: Page) -> Locator:
    return card_of(page, "kv-global-add", "kv-scoped-add")


def add_entry(page: Page, card: Locator, scope: str, key: str, value: str) -> None:
    """Click the card's add button, wait for the new row (redraws are async), fill it."""
    add = page.get_by_test_id(f"kv-{scope}-add")
    expect(add).to_be_visible()  # the editor is drawn with the loaded entries
    keys = card.get_by_test_id("kv-key")
    before = keys.count()
    add.click()
    expect(keys).to_have_count(before + 1)
    keys.nth(before).fill(key)
    card.get_by_test_id("kv-value").nth(before).fill(value)


def save(page: Page, fn_id: str, scope: str) -> None:
    with api_call(page, "POST", rf"^/api/functions/{fn_id}/kv$") as saved:
        page.get_by_test_id(f"kv-{scope}-save").click()
    assert saved.value.status == 200, saved.value.text()


def expect_entry(card: Locator, key: str, value: str) -> None:
    """Wait until the card has a row `key` = `value` (input values, so no text matcher)."""
    expect(card.get_by_test_id("kv-key").first).to_be_visible()
    card.page.wait_for_function(
        """([card, key, value]) => {
          const keys = [...card.querySelectorAll('[data-testid="kv-key"]')];
          const values = [...card.querySelectorAll('[data-testid="kv-value"]')];
          const i = keys.findIndex(e => e.value === key);
          return i >= 0 && values[i] !== undefined && values[i].value === value;
        }""",
        arg=[card.element_handle(), key, value],
    )


def test_data_tab_route(signed_in: Page, stateful: dict[str, Any]) -> None:
    open_function(signed_in, stateful["id"], "data")
    expect(signed_in).to_have_url(route_re(f"/functions/{stateful['id']}/kv"))


def test_scoped_kv_persists_after_reload(
    signed_in: Page, lunar: Lunar, stateful: dict[str, Any]
) -> None:
    open_function(signed_in, stateful["id"], "data")
    add_entry(signed_in, scoped_card(signed_in), "scoped", "status", "ready")
    save(signed_in, stateful["id"], "scoped")
    signed_in.reload()
    expect_entry(scoped_card(signed_in), "status", "ready")
    assert lunar.function(stateful["id"])["scoped_data"] == {"status": "ready"}


def test_global_kv_persists_after_reload(
    signed_in: Page, lunar: Lunar, stateful: dict[str, Any]
) -> None:
    open_function(signed_in, stateful["id"], "data")
    add_entry(signed_in, global_card(signed_in), "global", "token", "shared-secret")
    save(signed_in, stateful["id"], "global")
    signed_in.reload()
    expect_entry(global_card(signed_in), "token", "shared-secret")
    data = lunar.function(stateful["id"])
    assert data["global_data"].get("token") == "shared-secret"
    assert "token" not in (data["scoped_data"] or {})


def test_kv_is_readable_from_code(signed_in: Page, lunar: Lunar, stateful: dict[str, Any]) -> None:
    assert lunar.call(stateful["id"]).text == "none"
    open_function(signed_in, stateful["id"], "data")
    add_entry(signed_in, scoped_card(signed_in), "scoped", "color", "blue")
    save(signed_in, stateful["id"], "scoped")
    r = lunar.call(stateful["id"])
    assert r.status_code == 200
    assert r.text == "blue"


def test_data_tab_round_trip(signed_in: Page, lunar: Lunar, stateful: dict[str, Any]) -> None:
    """API → UI shows it → UI edits it → API sees exactly the edited set."""
    lunar.set_kv(stateful["id"], {"color": "red", "size": "L"})
    open_function(signed_in, stateful["id"], "data")
    card = scoped_card(signed_in)
    expect(card.get_by_test_id("kv-key")).to_have_count(2)
    expect_entry(card, "color", "red")
    expect_entry(card, "size", "L")
    keys = card.get_by_test_id("kv-key").evaluate_all("els => els.map(e => e.value)")
    card.get_by_test_id("kv-value").nth(keys.index("color")).fill("green")
    add_entry(signed_in, card, "scoped", "shape", "round")
    save(signed_in, stateful["id"], "scoped")
    assert lunar.function(stateful["id"])["scoped_data"] == {
        "color": "green",
        "size": "L",
        "shape": "round",
    }
    assert lunar.call(stateful["id"]).text == "green"
    signed_in.reload()
    expect(scoped_card(signed_in).get_by_test_id("kv-key")).to_have_count(3)
    expect_entry(scoped_card(signed_in), "color", "green")


def test_scheduling_shows_the_next_run(
    signed_in: Page, lunar: Lunar, stateful: dict[str, Any]
) -> None:
    open_function(signed_in, stateful["id"], "settings")
    expect(signed_in.get_by_test_id("next-run")).to_have_count(0)
    signed_in.get_by_test_id("cron-input").fill("*/5 * * * *")
    signed_in.get_by_test_id("enable-schedule").check()
    with api_call(signed_in, "PUT", rf"^/api/functions/{stateful['id']}$") as saved:
        signed_in.get_by_test_id("save-schedule").click()
    assert saved.value.status == 200
    expect(signed_in.get_by_test_id("next-run")).to_be_visible()
    fn = lunar.function(stateful["id"])
    assert fn["cron_schedule"] == "*/5 * * * *"
    assert fn["cron_status"] == "active"
