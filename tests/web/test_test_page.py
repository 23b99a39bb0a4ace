"""test_page.feature (platform §9) and the request builder really sending method, path,
query and body (issue 10)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.web.support import ECHO_LUA, Lunar, open_function


def test_send_request_shows_200_and_the_body(signed_in: Page, lunar: Lunar) -> None:
    fn = lunar.create_function("try-me")
    open_function(signed_in, fn["id"], "test")
    signed_in.get_by_test_id("test-send").click()
    expect(signed_in.get_by_test_id("test-status")).to_contain_text("200")
    expect(signed_in.get_by_test_id("test-response-body")).to_contain_text("Hello from Lua!")


def test_request_builder_sends_method_path_and_body(signed_in: Page, lunar: Lunar) -> None:
    fn = lunar.create_function("echo", code=ECHO_LUA)
    open_function(signed_in, fn["id"], "test")
    signed_in.get_by_test_id("test-method").select_option("PUT")
    signed_in.get_by_test_id("test-path").fill("/users/42")
    signed_in.get_by_test_id("test-body").fill("plain words")
    with signed_in.expect_response(re.compile(rf"/fn/{fn['id']}/users/42")) as sent:
        signed_in.get_by_test_id("test-send").click()
    assert sent.value.request.method == "PUT"
    expect(signed_in.get_by_test_id("test-status")).to_contain_text("200")
    expect(signed_in.get_by_test_id("test-response-body")).to_contain_text(
        "PUT /users/42 q= body=plain words"
    )
    # The execution is recorded like any other call.
    r = lunar.api.get(f"/api/functions/{fn['id']}/executions")
    assert r.json()["pagination"]["total"] == 1
