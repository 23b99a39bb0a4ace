"""sign_in.feature (platform §9) plus the session rules of issue 10: 401 → login, the key
never stored in the page, and the static-serving security headers as the browser sees them."""

from __future__ import annotations

from playwright.sync_api import Page, Response, expect

from tests.daemon import Daemon
from tests.web.conftest import Console
from tests.web.support import (
    Lunar,
    expect_chart_drawn,
    open_function,
    open_route,
    route_re,
    sign_in,
)


def test_valid_key_reaches_the_functions_list(page: Page, daemon: Daemon) -> None:
    sign_in(page, daemon.api_key)
    expect(page).to_have_url(route_re("/functions"))


def test_invalid_key_stays_on_login_with_an_error(page: Page) -> None:
    open_route(page, "/login")
    submit = page.get_by_test_id("login-submit")
    expect(submit).to_be_disabled()  # §7.3: disabled while the key is empty
    page.get_by_test_id("login-key").fill("not-the-key")
    submit.click()
    expect(page.get_by_test_id("login-error")).to_contain_text("Invalid API key")
    expect(page).to_have_url(route_re("/login"))


def test_signing_out_returns_to_login(signed_in: Page) -> None:
    signed_in.get_by_test_id("nav-logout").click()
    expect(signed_in).to_have_url(route_re("/login"))
    # The session is really gone: the list sends us back to login.
    open_route(signed_in, "/functions")
    expect(signed_in).to_have_url(route_re("/login"))


def test_unauthenticated_route_redirects_to_login(page: Page) -> None:
    open_route(page, "/functions")
    expect(page).to_have_url(route_re("/login"))
    expect(page.get_by_test_id("login-key")).to_be_visible()


def test_api_401_redirects_to_login_then_login_works_again(
    signed_in: Page, daemon: Daemon, lunar: Lunar
) -> None:
    fn = lunar.create_function("session-probe")
    signed_in.context.clear_cookies()
    # An in-app navigation (no reload): the page's API call answers 401.
    signed_in.evaluate("id => { location.hash = '#!/functions/' + id + '/versions' }", fn["id"])
    expect(signed_in).to_have_url(route_re("/login"))
    sign_in(signed_in, daemon.api_key)


def test_key_is_kept_only_in_an_httponly_cookie(signed_in: Page, daemon: Daemon) -> None:
    storage = signed_in.evaluate(
        "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
    )
    assert daemon.api_key not in storage
    assert daemon.api_key not in signed_in.url
    cookies = {c["name"]: c for c in signed_in.context.cookies()}
    assert cookies["auth_token"]["httpOnly"] is True
    assert cookies["auth_token"]["value"] != daemon.api_key


def test_dashboard_served_with_security_headers(page: Page) -> None:
    responses: list[Response] = []
    page.on("response", lambda r: responses.append(r))
    main = page.goto("/")
    assert main is not None and main.status == 200
    headers = main.headers
    assert headers["content-type"].startswith("text/html")
    csp = headers.get("content-security-policy", "")
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    script_src = directives.get("script-src", directives.get("default-src"))
    assert script_src is not None, csp
    assert "'unsafe-inline'" not in script_src, csp
    framing_blocked = directives.get("frame-ancestors") in (["'none'"], ["'self'"]) or headers.get(
        "x-frame-options", ""
    ).upper() in ("DENY", "SAMEORIGIN")
    assert framing_blocked, headers
    expect(page.get_by_test_id("login-key")).to_be_visible()
    scripts = [r for r in responses if r.request.resource_type == "script"]
    assert scripts, "the dashboard loaded no script"
    for r in scripts:
        assert "javascript" in r.headers.get("content-type", ""), (r.url, r.headers)
    vendored = [r for r in responses if "/vendor/" in r.url]
    assert vendored, "no vendored asset was loaded"
    for r in vendored:
        assert "immutable" in r.headers.get("cache-control", ""), (r.url, r.headers)


CSP_PROBE = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e => {
  window.__cspViolations.push([e.violatedDirective, e.blockedURI, e.sourceFile + ':' + e.lineNumber,
    e.sample].join(' '));
});
"""


def test_normal_session_has_no_csp_violations(
    page: Page, daemon: Daemon, lunar: Lunar, console: Console
) -> None:
    """Login, list, code editor (lazy-loaded), analytics chart, SQL console: nothing the
    page does is blocked by its own Content-Security-Policy."""
    page.add_init_script(CSP_PROBE)
    fn = lunar.create_function("csp-probe")
    assert lunar.call(fn["id"]).status_code == 200
    sign_in(page, daemon.api_key)
    violations: list[str] = []

    def collect(where: str) -> None:
        found = page.evaluate("() => window.__cspViolations.splice(0)")
        violations.extend(f"{where}: {v}" for v in found)

    expect(page.get_by_test_id("fn-row").first).to_be_visible()
    collect("list")
    open_function(page, fn["id"])
    expect(page.locator('[data-testid="code-editor"] .cm-content')).to_be_visible()
    collect("code")
    page.get_by_test_id("tab-analytics").click()
    expect_chart_drawn(page)
    collect("analytics")
    open_route(page, "/sql")
    expect(page.get_by_test_id("sql-run")).to_be_visible()
    collect("sql")
    assert violations == []
    assert console.matching(r"content security policy|Refused to") == []
    assert console.matching(r"^pageerror") == []
