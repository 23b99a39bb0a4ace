"""The device login (platform §8.4, DECISIONS 9): ask for a code, let the person approve it
in the dashboard, poll until the server hands out an API token.

Polling stops on `approved` (the token), `denied`, 404 (the code expired or the server
restarted: codes live in its memory), 410 (another client already collected the token) or
when the code's `expires_in` (or the caller's shorter timeout) has passed.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lunard.client.api import Api
from lunard.client.errors import ApiError, ClientError, LoginFailed

AGAIN = "run 'lunar login' again"


@dataclass(frozen=True)
class LoginResult:
    """What a successful login yields: the raw token and the code it was approved under."""

    token: str
    user_code: str

    @property
    def token_name(self) -> str:
        """The name the server gives the token it creates (`CLI (<user_code>)`)."""
        return f"CLI ({self.user_code})"


def can_open_browser(env: Mapping[str, str] | None = None) -> bool:
    """Whether a graphical browser is likely: `$BROWSER`, a display, macOS or Windows.

    Without one, Python's `webbrowser` may start a text browser in this very terminal,
    which would hide the code and block the poll, so the URL is only printed then.
    """
    env = os.environ if env is None else env
    if env.get("BROWSER"):
        return True
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def open_in_background(url: str) -> None:
    """Open `url` in the browser without waiting for it (a browser may not return)."""
    threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()


def request_code(api: Api) -> dict[str, Any]:
    """A fresh device code from the server (`POST /api/auth/device-request`)."""
    answer = api.device_request()
    if not isinstance(answer, dict) or not answer.get("device_code"):
        raise LoginFailed(f"{api.server} did not answer the device login request with a code")
    return answer


def poll_token(
    api: Api,
    request: Mapping[str, Any],
    *,
    interval: float | None = None,
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> LoginResult:
    """Poll `device-token` every `interval` s (default: the server's) until it decides."""
    step = float(request.get("interval") or 5) if interval is None else interval
    lifetime = float(request.get("expires_in") or 300)
    limit = lifetime if timeout is None else min(timeout, lifetime)
    deadline = clock() + limit
    code = str(request["device_code"])
    while True:
        sleep(max(0.0, min(step, deadline - clock())))
        answer = _poll_once(api, code)
        status = answer.get("status")
        if status == "approved" and answer.get("token"):
            return LoginResult(str(answer["token"]), str(request.get("user_code", "")))
        if status == "denied":
            raise LoginFailed("the login was denied in the dashboard")
        if clock() >= deadline:
            raise LoginFailed(f"the login was not approved within {limit:g} s; {AGAIN}")


def _poll_once(api: Api, code: str) -> dict[str, Any]:
    try:
        answer = api.device_token(code)
    except ApiError as exc:
        if exc.status == 404:
            raise LoginFailed(
                f"the login code expired or is unknown to the server; {AGAIN}"
            ) from None
        if exc.status == 410:
            raise LoginFailed(
                f"the token of this login was already collected by another client; {AGAIN}"
            ) from None
        raise
    return answer if isinstance(answer, dict) else {}


def find_token_id(api: Api, name: str) -> str | None:
    """The id of the newest live token named `name` (to revoke it at logout), if listed."""
    try:
        tokens = (api.list_tokens() or {}).get("tokens") or []
    except ClientError:
        return None  # only logout's revocation needs the id; the login itself worked
    for token in tokens:
        if token.get("name") == name and not token.get("revoked"):
            return str(token.get("id"))
    return None
