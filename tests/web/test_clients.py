"""connected_clients.feature (platform §9), revoking a token, and the CLI device approval
driven by a real device request (POST /api/auth/device-request → the approval URL it
returns, which names the device code → allow or deny → the CLI's poll)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.web.support import Lunar, open_route, route_re


def test_viewing_connected_clients(signed_in: Page) -> None:
    open_route(signed_in, "/clients")
    expect(signed_in).to_have_url(re.compile("clients"))
    expect(signed_in.get_by_role("heading", level=1)).to_be_visible()


def test_revoking_a_token(signed_in: Page, lunar: Lunar) -> None:
    token, user_code = lunar.approved_token()
    assert lunar.status_with_token(token) == 200
    open_route(signed_in, "/clients")
    row = signed_in.get_by_test_id("token-row").filter(has_text=f"CLI ({user_code})")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Active")
    with signed_in.expect_response(re.compile(r"/api/tokens/[^/]+/revoke$")) as revoked:
        row.get_by_test_id("token-revoke").click()  # the confirm is accepted
    assert revoked.value.status == 200
    expect(row).to_contain_text("Revoked")
    expect(row.get_by_test_id("token-revoke")).to_have_count(0)
    assert lunar.status_with_token(token) == 401
    [listed] = [t for t in lunar.tokens() if t["name"] == f"CLI ({user_code})"]
    assert listed["revoked"] is True


def open_approval_page(page: Page, lunar: Lunar) -> dict[str, str]:
    req = lunar.device_request()
    suffix = "/#!/device-approve/" + req["device_code"]
    assert req["approval_url"].endswith(suffix), req
    page.goto(suffix)
    expect(page).to_have_url(route_re("/device-approve/" + req["device_code"]))
    expect(page.get_by_test_id("device-user-code")).to_contain_text(req["user_code"])
    return req


def test_device_approval_allow_gives_the_cli_a_working_token(signed_in: Page, lunar: Lunar) -> None:
    req = open_approval_page(signed_in, lunar)
    assert lunar.device_poll(req["device_code"]).json() == {"status": "pending"}
    signed_in.get_by_test_id("device-allow").click()
    expect(signed_in.get_by_test_id("device-result")).to_be_visible()
    expect(signed_in.get_by_test_id("device-allow")).to_have_count(0)
    poll = lunar.device_poll(req["device_code"])
    assert poll.status_code == 200
    body = poll.json()
    assert body["status"] == "approved"
    assert lunar.status_with_token(body["token"]) == 200
    # The new client is listed on the clients page.
    open_route(signed_in, "/clients")
    expect(
        signed_in.get_by_test_id("token-row").filter(has_text=f"CLI ({req['user_code']})")
    ).to_have_count(1)


def test_device_approval_deny_gives_no_token(signed_in: Page, lunar: Lunar) -> None:
    req = open_approval_page(signed_in, lunar)
    signed_in.get_by_test_id("device-deny").click()
    expect(signed_in.get_by_test_id("device-result")).to_be_visible()
    expect(signed_in.get_by_test_id("device-deny")).to_have_count(0)
    poll = lunar.device_poll(req["device_code"])
    assert poll.status_code == 200
    assert poll.json() == {"status": "denied"}
    assert not [t for t in lunar.tokens() if t["name"] == f"CLI ({req['user_code']})"]


def test_device_approval_of_a_decided_code_offers_no_buttons(signed_in: Page, lunar: Lunar) -> None:
    req = lunar.device_request()
    r = lunar.api.post(
        "/api/auth/device-approve", json={"device_code": req["device_code"], "action": "deny"}
    )
    assert r.status_code == 200
    signed_in.goto("/#!/device-approve/" + req["device_code"])
    expect(
        signed_in.get_by_test_id("device-user-code")
        .or_(signed_in.get_by_test_id("device-result"))
        .first
    ).to_be_visible()
    expect(signed_in.get_by_test_id("device-allow")).to_have_count(0)
    expect(signed_in.get_by_test_id("device-deny")).to_have_count(0)
