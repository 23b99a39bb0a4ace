"""Browser fixtures: one headless Debian chromium per session, one daemon per module (the
shared `daemon` fixture of tests/conftest.py), a fresh browser context per test.

Playwright's sync API refuses to run inside a running asyncio loop; pytest-trio runs only
the `async def` tests in a trio loop, so these plain `def` tests (and sync fixtures) run with
no loop at all and the sync API works.

On failure every page of the test is saved as a PNG (with its console log) under
$LUNARD_TEST_ARTIFACTS, default `test-artifacts/` at the repository root.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from tests.daemon import Daemon
from tests.web.support import Lunar, sign_in

CHROMIUM = Path(os.environ.get("LUNARD_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
TIMEOUT_MS = 10_000
DESKTOP = {"width": 1280, "height": 800}
ARTIFACTS = Path(
    os.environ.get("LUNARD_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts")
)

expect.set_options(timeout=TIMEOUT_MS)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item so fixtures can tell a failed test."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One chromium for the whole session; every browser test is skipped without it."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} is missing: the dashboard tests need Debian's chromium "
            "(`make browser` installs it; never `playwright install`)"
        )
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Console:
    """Console messages and uncaught page errors of every page of one test."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def watch(self, page: Page) -> None:
        page.on("console", self._message)
        page.on("pageerror", lambda exc: self.lines.append(f"pageerror: {exc}"))

    def _message(self, msg: ConsoleMessage) -> None:
        self.lines.append(f"{msg.type}: {msg.text}")

    def matching(self, pattern: str) -> list[str]:
        return [line for line in self.lines if re.search(pattern, line, re.I)]


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def new_page(
    browser: Browser, daemon: Daemon, console: Console, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Page]]:
    """Make a page in a fresh context on the daemon (no cookies, confirm dialogs accepted,
    console watched); contexts are closed at the end, pages saved if the test failed."""
    contexts: list[BrowserContext] = []
    prepared: set[int] = set()

    def prepare(page: Page) -> None:
        if id(page) in prepared:
            return
        prepared.add(id(page))
        console.watch(page)
        # The spec's confirms (delete, activate, revoke) are accepted, as a user would.
        page.on("dialog", lambda dialog: dialog.accept())

    def make(**options: Any) -> Page:
        options.setdefault("viewport", DESKTOP)
        ctx = browser.new_context(base_url=daemon.url, locale="en-US", **options)
        ctx.set_default_timeout(TIMEOUT_MS)
        ctx.on("page", prepare)  # pages the app opens itself
        contexts.append(ctx)
        page = ctx.new_page()
        prepare(page)
        return page

    yield make
    failed = any(
        getattr(request.node, f"rep_{when}", None) is not None
        and getattr(request.node, f"rep_{when}").failed
        for when in ("setup", "call")
    )
    if failed:
        _save_artifacts(request.node.nodeid, contexts, console)
    for ctx in contexts:
        ctx.close()


def _save_artifacts(nodeid: str, contexts: list[BrowserContext], console: Console) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid)
    pages = [p for ctx in contexts for p in ctx.pages]
    for i, page in enumerate(pages):
        suffix = "" if i == 0 else f"-{i}"
        try:
            page.screenshot(path=str(ARTIFACTS / f"{stem}{suffix}.png"), full_page=True)
            (ARTIFACTS / f"{stem}{suffix}.url.txt").write_text(page.url + "\n")
        except Exception as exc:  # a crashed page must not hide the test's own failure
            (ARTIFACTS / f"{stem}{suffix}.error.txt").write_text(repr(exc))
    (ARTIFACTS / f"{stem}.console.txt").write_text("\n".join(console.lines) + "\n")


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    """A blank desktop-sized page in a fresh context; navigate with relative URLs."""
    return new_page()


@pytest.fixture
def signed_in(page: Page, daemon: Daemon) -> Page:
    """A page logged in through the login form with the test admin key."""
    sign_in(page, daemon.api_key)
    return page


@pytest.fixture
def lunar(api: Any, anon: Any) -> Lunar:
    """The daemon's API: create functions, call /fn, check effects."""
    return Lunar(api, anon)
