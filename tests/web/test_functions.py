"""managing_functions.feature and invoking_functions.feature (platform §9), Starlark and
the language column excluded, plus the list's badges and default page size (§7.3)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.web.support import (
    ENV_LUA,
    METHOD_LUA,
    Lunar,
    api_call,
    fn_row,
    open_function,
    open_route,
    route_re,
    set_code,
)

TEMPLATES = ["http", "api", "aiChat", "email", "router", "blank"]


def create_through_ui(page: Page, name: str, template: str | None = None) -> None:
    """List → New Function → name (+ template) → Create; lands back on the list."""
    open_route(page, "/functions")
    page.get_by_test_id("fn-new").click()
    expect(page).to_have_url(route_re("/functions/new"))
    page.get_by_test_id("create-name").fill(name)
    if template is not None:
        page.get_by_test_id(f"template-{template}").click()
    with api_call(page, "POST", r"^/api/functions$") as created:
        page.get_by_test_id("create-submit").click()
    assert created.value.status == 200, created.value.text()
    expect(page).to_have_url(route_re("/functions"))


def test_list_starts_empty(signed_in: Page, lunar: Lunar) -> None:
    lunar.delete_all_functions()
    signed_in.reload()
    expect(signed_in.get_by_text(re.compile("No functions yet"))).to_be_visible()
    expect(signed_in.get_by_test_id("fn-row")).to_have_count(0)


def test_creating_lands_on_the_list_with_the_new_row(signed_in: Page, lunar: Lunar) -> None:
    create_through_ui(signed_in, "greeter")
    row = fn_row(signed_in, name="greeter")
    expect(row).to_have_count(1)
    fn = lunar.function_named("greeter")
    expect(row).to_have_attribute("data-fn-id", fn["id"])


def test_create_page_offers_the_six_templates_in_order(signed_in: Page) -> None:
    open_route(signed_in, "/functions/new")
    cards = signed_in.locator('[data-testid^="template-"]')
    expect(cards).to_have_count(len(TEMPLATES))
    ids = cards.evaluate_all("els => els.map(e => e.dataset.testid)")
    assert ids == [f"template-{t}" for t in TEMPLATES]


def test_name_is_required(signed_in: Page) -> None:
    open_route(signed_in, "/functions/new")
    signed_in.get_by_test_id("create-submit").click()
    error = signed_in.get_by_test_id("toast").or_(
        signed_in.get_by_text(re.compile(r"name (cannot be empty|is required)", re.I))
    )
    expect(error.first).to_be_visible()
    expect(signed_in).to_have_url(route_re("/functions/new"))


def test_row_click_opens_the_code_page(signed_in: Page, lunar: Lunar) -> None:
    fn = lunar.create_function("row-click")
    signed_in.reload()
    fn_row(signed_in, fn_id=fn["id"]).click()
    expect(signed_in).to_have_url(route_re(f"/functions/{fn['id']}"))
    expect(signed_in.get_by_test_id("code-editor")).to_be_visible()


def test_list_rows_show_status_and_version_badges(signed_in: Page, lunar: Lunar) -> None:
    on = lunar.create_function("badge-on")
    off = lunar.create_function("badge-off")
    lunar.update(off["id"], disabled=True)
    lunar.update(on["id"], code=METHOD_LUA)  # version 2
    signed_in.reload()
    expect(fn_row(signed_in, fn_id=on["id"])).to_contain_text("Enabled")
    expect(fn_row(signed_in, fn_id=on["id"])).to_contain_text("v2")
    expect(fn_row(signed_in, fn_id=off["id"])).to_contain_text("Disabled")
    expect(fn_row(signed_in, fn_id=off["id"])).to_contain_text("v1")


def test_renaming_in_settings_shows_in_the_list(signed_in: Page, lunar: Lunar) -> None:
    fn = lunar.create_function("old-name")
    open_function(signed_in, fn["id"], "settings")
    name = signed_in.get_by_test_id("settings-name")
    expect(name).to_have_value("old-name")
    name.fill("new-name")
    with api_call(signed_in, "PUT", rf"^/api/functions/{fn['id']}$") as saved:
        signed_in.get_by_test_id("settings-save-general").click()
    assert saved.value.status == 200
    open_route(signed_in, "/functions")
    expect(fn_row(signed_in, fn_id=fn["id"])).to_contain_text("new-name")
    expect(fn_row(signed_in, name="old-name")).to_have_count(0)


def test_deleting_removes_it_from_the_list_and_from_fn(signed_in: Page, lunar: Lunar) -> None:
    survivor = lunar.create_function("survivor")
    fn = lunar.create_function("doomed")
    assert lunar.call(fn["id"]).status_code == 200
    open_function(signed_in, fn["id"], "settings")
    signed_in.get_by_test_id("delete-function").click()  # the confirm is accepted
    expect(signed_in).to_have_url(route_re("/functions"))
    expect(fn_row(signed_in, fn_id=survivor["id"])).to_be_visible()  # the list is drawn
    expect(fn_row(signed_in, name="doomed")).to_have_count(0)
    assert lunar.call(fn["id"]).status_code == 404


def test_brand_new_function_responds(signed_in: Page, lunar: Lunar) -> None:
    create_through_ui(signed_in, "fresh-hello")
    fn = lunar.function_named("fresh-hello")
    r = lunar.call(fn["id"])
    assert r.status_code == 200
    assert "Hello from Lua!" in r.text


def test_rest_api_template_responds(signed_in: Page, lunar: Lunar) -> None:
    create_through_ui(signed_in, "rest-one", template="api")
    fn = lunar.function_named("rest-one")
    assert lunar.call(fn["id"]).status_code == 200
    assert lunar.call(fn["id"], "POST", json={}).status_code == 201


def test_http_method_reaches_code_edited_in_the_editor(signed_in: Page, lunar: Lunar) -> None:
    create_through_ui(signed_in, "method-echo", template="blank")
    fn = lunar.function_named("method-echo")
    open_function(signed_in, fn["id"])
    set_code(signed_in, METHOD_LUA)
    with api_call(signed_in, "PUT", rf"^/api/functions/{fn['id']}$") as saved:
        signed_in.get_by_test_id("code-save").click()
    assert saved.value.status == 200
    r = lunar.call(fn["id"], "POST")
    assert r.status_code == 200
    assert r.text == "POST"


def test_disabled_function_answers_403(signed_in: Page, lunar: Lunar) -> None:
    fn = lunar.create_function("switchable")
    assert lunar.call(fn["id"]).status_code == 200
    open_function(signed_in, fn["id"], "settings")
    toggle = signed_in.get_by_test_id("enable-function")
    expect(toggle).to_be_checked()
    toggle.uncheck()
    with api_call(signed_in, "PUT", rf"^/api/functions/{fn['id']}$") as saved:
        signed_in.get_by_test_id("save-status").click()
    assert saved.value.status == 200
    assert lunar.call(fn["id"]).status_code == 403
    signed_in.reload()
    expect(signed_in.get_by_test_id("enable-function")).not_to_be_checked()
    signed_in.get_by_test_id("enable-function").check()
    with api_call(signed_in, "PUT", rf"^/api/functions/{fn['id']}$") as saved:
        signed_in.get_by_test_id("save-status").click()
    assert saved.value.status == 200
    assert lunar.call(fn["id"]).status_code == 200


def test_environment_variable_set_in_settings(signed_in: Page, lunar: Lunar) -> None:
    fn = lunar.create_function("env-reader", code=ENV_LUA)
    assert lunar.call(fn["id"]).text == "unset"
    open_function(signed_in, fn["id"], "settings")
    expect(signed_in.get_by_test_id("settings-name")).to_have_value("env-reader")  # loaded
    expect(signed_in.get_by_test_id("env-key")).to_have_count(0)
    signed_in.get_by_test_id("env-add").click()
    expect(signed_in.get_by_test_id("env-key")).to_have_count(1)
    signed_in.get_by_test_id("env-key").fill("GREETING")
    signed_in.get_by_test_id("env-value").fill("hola")
    with api_call(signed_in, "PUT", rf"^/api/functions/{fn['id']}/env$") as saved:
        signed_in.get_by_test_id("env-save").click()
    assert saved.value.status == 200
    assert lunar.call(fn["id"]).text == "hola"
    signed_in.reload()
    expect(signed_in.get_by_test_id("env-key").first).to_have_value("GREETING")
    expect(signed_in.get_by_test_id("env-value").first).to_have_value("hola")


def test_list_pages_twenty_by_default(signed_in: Page, lunar: Lunar) -> None:
    for i in range(21 - len(lunar.functions())):
        lunar.create_function(f"bulk-{i:02d}")
    signed_in.reload()
    expect(signed_in.get_by_test_id("fn-row")).to_have_count(20)
