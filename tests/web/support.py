"""Helpers for the dashboard's browser tests: the API side (httpx) and the page side (Playwright).

The API helpers prepare state and check effects through the real HTTP API; the page helpers
drive the UI only through the element contract of issue 10 (`data-testid`s) and roles.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import Locator, Page, expect

HELLO_LUA = """function handler(ctx, event)
  return {
    statusCode = 200,
    headers = { ["Content-Type"] = "application/json" },
    body = json.encode({ message = "Hello from Lua!", path = event.path }),
  }
end
"""

# Logs one line (so the execution has logs to show) and fails on `?fail=1`.
AUDITED_LUA = """function handler(ctx, event)
  log.info("audit-line " .. event.method)
  if event.query.fail then
    error("boom-on-purpose")
  end
  return { statusCode = 200, body = "ok" }
end
"""

METHOD_LUA = """function handler(ctx, event)
  return { statusCode = 200, headers = { ["Content-Type"] = "text/plain" }, body = event.method }
end
"""

ECHO_LUA = """function handler(ctx, event)
  return {
    statusCode = 200,
    headers = { ["Content-Type"] = "text/plain" },
    body = event.method .. " " .. event.relativePath .. " q=" .. (event.query.q or "") ..
      " body=" .. event.body,
  }
end
"""

ENV_LUA = """function handler(ctx, event)
  return { statusCode = 200, headers = { ["Content-Type"] = "text/plain" },
           body = env.get("GREETING") or "unset" }
end
"""

KV_LUA = """function handler(ctx, event)
  return { statusCode = 200, headers = { ["Content-Type"] = "text/plain" },
           body = kv.get("color") or "none" }
end
"""


# --------------------------------------------------------------------------- API side


@dataclass
class Lunar:
    """The daemon's API with the admin key (`api`) and without credentials (`anon`)."""

    api: httpx.Client
    anon: httpx.Client

    def create_function(self, name: str, code: str = HELLO_LUA, **fields: Any) -> dict[str, Any]:
        """Create a function through the API; returns its JSON."""
        r = self.api.post("/api/functions", json={"name": name, "code": code, **fields})
        assert r.status_code == 200, r.text
        return r.json()

    def function(self, fn_id: str) -> dict[str, Any]:
        r = self.api.get(f"/api/functions/{fn_id}")
        assert r.status_code == 200, r.text
        return r.json()

    def functions(self) -> list[dict[str, Any]]:
        r = self.api.get("/api/functions", params={"limit": 100})
        assert r.status_code == 200, r.text
        return r.json()["functions"]

    def delete_all_functions(self) -> None:
        for fn in self.functions():
            assert self.api.delete(f"/api/functions/{fn['id']}").status_code == 204

    def function_named(self, name: str) -> dict[str, Any]:
        """The one function called `name` (fails if there is none or several)."""
        found = [fn for fn in self.functions() if fn["name"] == name]
        assert len(found) == 1, [fn["name"] for fn in self.functions()]
        return found[0]

    def update(self, fn_id: str, **fields: Any) -> None:
        r = self.api.put(f"/api/functions/{fn_id}", json=fields)
        assert r.status_code == 200, r.text

    def set_kv(self, fn_id: str, entries: dict[str, str], *, global_scope: bool = False) -> None:
        body = {
            "global": global_scope,
            "kvEntries": [{"key": k, "value": v} for k, v in entries.items()],
        }
        r = self.api.post(f"/api/functions/{fn_id}/kv", json=body)
        assert r.status_code == 200, r.text

    def versions(self, fn_id: str) -> list[dict[str, Any]]:
        r = self.api.get(f"/api/functions/{fn_id}/versions")
        assert r.status_code == 200, r.text
        return r.json()["versions"]

    def call(
        self, fn_id: str, method: str = "GET", path: str = "", **kwargs: Any
    ) -> httpx.Response:
        """Invoke `/fn/<id><path>` without credentials, as a caller on the internet would."""
        return self.anon.request(method, f"/fn/{fn_id}{path}", **kwargs)

    def device_request(self) -> dict[str, Any]:
        """Start a CLI device authorization (public endpoint), as `lunar login` does."""
        r = self.anon.post("/api/auth/device-request")
        assert r.status_code == 200, r.text
        return r.json()

    def device_poll(self, device_code: str) -> httpx.Response:
        return self.anon.get("/api/auth/device-token", params={"code": device_code})

    def approved_token(self) -> tuple[str, str]:
        """An API token made by the device flow without the UI: `(token, user_code)`."""
        req = self.device_request()
        r = self.api.post(
            "/api/auth/device-approve",
            json={"device_code": req["device_code"], "action": "allow"},
        )
        assert r.status_code == 200, r.text
        poll = self.device_poll(req["device_code"])
        assert poll.status_code == 200, poll.text
        return poll.json()["token"], req["user_code"]

    def tokens(self) -> list[dict[str, Any]]:
        r = self.api.get("/api/tokens")
        assert r.status_code == 200, r.text
        return r.json()["tokens"]

    def status_with_token(self, token: str) -> int:
        """The status of GET /api/functions authenticated with `token` as Bearer."""
        r = self.anon.get("/api/functions", headers={"Authorization": f"Bearer {token}"})
        return r.status_code


# --------------------------------------------------------------------------- page side


def hash_route(page: Page) -> str:
    """The `#!/...` part of the page's URL ('' when there is none)."""
    return urlsplit(page.url).fragment


def route_re(pattern: str) -> re.Pattern[str]:
    """A URL regex for a hash route, e.g. route_re(r'/functions') matches `.../#!/functions`."""
    return re.compile(r"#!" + pattern + r"(\?.*)?$")


def open_route(page: Page, route: str) -> None:
    """Go to `#!<route>`; reload when the page is already there (a same-URL goto is a no-op
    for a hash route, and the test wants the page drawn from the server's current state)."""
    before = hash_route(page)
    page.goto("/#!" + route)
    if before == "!" + route:
        page.reload()


def sign_in(page: Page, key: str) -> None:
    """Log in through the login page and wait for the functions list and the navbar."""
    open_route(page, "/login")
    page.get_by_test_id("login-key").fill(key)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(route_re("/functions"))
    expect(page.get_by_test_id("nav-logout")).to_be_visible()


def fn_row(page: Page, *, fn_id: str | None = None, name: str | None = None) -> Locator:
    """The functions-list row of one function, by id (`data-fn-id`) or by visible name."""
    if fn_id is not None:
        return page.locator(f'[data-testid="fn-row"][data-fn-id="{fn_id}"]')
    assert name is not None
    return page.get_by_test_id("fn-row").filter(has=page.get_by_text(name, exact=True))


def open_function(page: Page, fn_id: str, tab: str = "code") -> None:
    """Open a function's code page, then click its tab `tab` (code, versions, ..., analytics)."""
    open_route(page, f"/functions/{fn_id}")
    if tab != "code":
        page.get_by_test_id(f"tab-{tab}").click()
    expect(page.get_by_test_id(f"tab-{tab}")).to_be_visible()


def set_code(page: Page, text: str, testid: str = "code-editor") -> None:
    """Replace the whole text of the editor `testid` with `text`.

    Works for a CodeMirror 6 editor (the contenteditable `.cm-content` inside the testid
    element, or the testid on it) and for a plain textarea/input. The text goes in as one
    insertion, so the editor's auto-indent and bracket closing do not alter it.
    """
    root = page.get_by_test_id(testid)
    expect(root).to_be_visible()
    kind = root.evaluate(
        """e => (e.matches('textarea, input') ? 'field'
                 : e.matches('.cm-content, [contenteditable="true"]') ? 'self'
                 : 'inner')"""
    )
    if kind == "field":
        root.fill(text)
        return
    target = root if kind == "self" else root.locator(".cm-content")
    expect(target).to_be_visible()
    target.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.insert_text(text)
    first_line = text.strip().splitlines()[0].strip()
    expect(target).to_contain_text(first_line)


def card_of(page: Page, inside: str, not_inside: str) -> Locator:
    """The largest element holding testid `inside` but not `not_inside`.

    The Data page has two KV editors sharing the row testids `kv-key`/`kv-value`; this finds
    one editor's card by its own button (`kv-scoped-add`) and the other's (`kv-global-add`).
    """
    return (
        page.locator("body *")
        .filter(has=page.get_by_test_id(inside))
        .filter(has_not=page.get_by_test_id(not_inside))
        .first
    )


def screenshot(page: Page, name: str) -> Path | None:
    """Write `<name>.png` to $LUNARD_SCREENSHOTS when it is set (README images)."""
    target = os.environ.get("LUNARD_SCREENSHOTS")
    if not target:
        return None
    out = Path(target)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def api_call(page: Page, method: str, path_pattern: str) -> Any:
    """Context manager: wait for the page's `method` request whose URL path matches
    `path_pattern` (a regex searched in the path) to get its response.

    Use it around the click that saves something, then check `.value.status`; the effect is
    then on the server, so the test can check it through the API without polling.
    """
    pattern = re.compile(path_pattern)
    return page.expect_response(
        lambda r: r.request.method == method and pattern.search(urlsplit(r.url).path) is not None
    )


def expect_chart_drawn(page: Page) -> None:
    """The analytics chart is on screen and drawn (a canvas or SVG), not a placeholder."""
    chart = page.get_by_test_id("analytics-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("canvas, svg").first).to_be_visible()
