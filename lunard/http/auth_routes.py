"""Routes: dashboard login/logout and the CLI device authorization flow (http-api §5.1–5.6).

Login answers errors as `{"success": false, "error": ...}` (upstream's shape for that one
endpoint); every other route here uses the common `{"error": ...}` mapping.

Device flow: `device-request` and `device-token` are public, `device-approve` needs auth.
A code is decided once and its token collected once (DECISIONS 9, see `device_auth`): a poll
after the token was collected answers 410 `{"error": "Token already collected"}`, so a CLI
can tell "someone already took this token" apart from "expired or unknown" (404). The codes
are rows of the state database, so the three steps may reach three different nodes.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from quart import Blueprint, Response, request

from lunard.credentials import new_raw_token
from lunard.errors import BadRequest, InternalError, LunardError, NotFound
from lunard.http.auth import COOKIE_NAME, is_admin_key, require_auth
from lunard.http.deps import deps
from lunard.http.device_auth import POLL_INTERVAL, DeviceRequest, DeviceStatus
from lunard.http.responses import INVALID_BODY, json_response, optional_field, read_json_object
from lunard.state import tokens
from lunard.state.devices import TokenNotCreated

log = logging.getLogger(__name__)

bp = Blueprint("auth_routes", __name__)

INVALID_API_KEY = "Invalid API key"
MISSING_CODE = "Missing code parameter"
CODE_NOT_FOUND = "Device code not found or expired"
MISSING_DEVICE_CODE = "Missing device_code"
INVALID_ACTION = "Invalid action, must be 'allow' or 'deny'"
ALREADY_COLLECTED = "Token already collected"
APPROVAL_PATH = "/#!/device-approve/"


class TokenCollected(LunardError):
    """The approved token of a device code was already handed out (410)."""

    status = 410


def _login_error(message: str, status: int) -> Response:
    return json_response({"success": False, "error": message}, status)


def _set_auth_cookie(response: Response, value: str, max_age: int) -> None:
    """The `auth_token` cookie with upstream's attributes; Secure only over TLS."""
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.scheme in ("https", "wss"),
    )


@bp.post("/api/auth/login")
async def login() -> Response:
    """Exchange the admin key for a dashboard session cookie (DECISIONS 7: opaque token)."""
    raw = await request.get_data(cache=False)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _login_error(INVALID_BODY, 400)
    if not isinstance(body, dict):
        return _login_error(INVALID_BODY, 400)
    api_key = body.get("apiKey")
    if api_key is not None and not isinstance(api_key, str):
        return _login_error(INVALID_BODY, 400)
    d = deps()
    # Only the admin key logs in: API tokens are never exchanged for a session.
    if not api_key or not is_admin_key(api_key, d.api_key):
        return _login_error(INVALID_API_KEY, 401)
    session = new_raw_token()
    ttl = d.config.session_ttl
    await d.state.call(lambda c: tokens.create_session(c, session, ttl))
    response = json_response({"success": True})
    _set_auth_cookie(response, session, ttl)
    return response


@bp.post("/api/auth/logout")
async def logout() -> Response:
    """End the dashboard session (if any) and clear the cookie; always succeeds."""
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie:
        await deps().state.call(lambda c: tokens.delete_session(c, cookie))
    response = json_response({"success": True})
    _set_auth_cookie(response, "", 0)
    return response


@bp.post("/api/auth/device-request")
async def device_request() -> Response:
    """Start a device authorization: a new pending code for the CLI to poll (no body)."""
    d = deps()
    entry = await d.device_auth.create(d.state)
    return json_response(
        {
            "device_code": entry.device_code,
            "user_code": entry.user_code,
            "approval_url": d.config.public_url + APPROVAL_PATH + entry.device_code,
            "expires_in": d.device_auth.ttl,
            "interval": POLL_INTERVAL,
        }
    )


def _code(code: str | None) -> str:
    """A `code` query value: 400 if missing or empty."""
    if not code:
        raise BadRequest(MISSING_CODE)
    return code


def _found(entry: DeviceRequest | None) -> DeviceRequest:
    """404 unless the request is live."""
    if entry is None:
        raise NotFound(CODE_NOT_FOUND)
    return entry


@bp.get("/api/auth/device-token")
async def device_token() -> Response:
    """The CLI's poll: pending, denied, or approved with the raw token (handed out once).

    The poll that collects creates the API token row (and marks the code collected) in one
    transaction; if that fails it answers 500 and the next poll can collect."""
    code = _code(request.args.get("code"))
    d = deps()
    # HEAD (implied by GET) has no body to carry the token, so it must not consume it.
    if request.method == "HEAD":
        current = _found(await d.device_auth.get(d.state, code))
        return json_response({"status": str(current.status)})
    try:
        polled = await d.device_auth.collect(d.state, code)
    except TokenNotCreated as exc:
        log.exception("cannot create the API token for a device code")
        raise InternalError("Failed to create token") from exc
    entry = _found(polled.request)
    if polled.token is not None:
        return json_response({"status": str(entry.status), "token": polled.token})
    if entry.status is DeviceStatus.APPROVED:  # approved, and collected before
        raise TokenCollected(ALREADY_COLLECTED)
    return json_response({"status": str(entry.status)})


@bp.get("/api/auth/device-approve")
@require_auth
async def device_approve_status() -> Response:
    """What the approval page shows: the user code and the current status until expiry."""
    code = _code(request.args.get("code"))
    d = deps()
    entry = _found(await d.device_auth.get(d.state, code))
    return json_response(
        {
            "device_code": entry.device_code,
            "user_code": entry.user_code,
            "status": str(entry.status),
            "expires_at": entry.expires_at,
        }
    )


def _approve_body(data: dict[str, Any]) -> tuple[str, str]:
    """`(device_code, action)` checked in upstream's order (before any code lookup)."""
    device_code = optional_field(data, "device_code", str)
    action = optional_field(data, "action", str)
    if not device_code:
        raise BadRequest(MISSING_DEVICE_CODE)
    if action not in ("allow", "deny"):
        raise BadRequest(INVALID_ACTION)
    return device_code, action


@bp.post("/api/auth/device-approve")
@require_auth
async def device_approve() -> Response:
    """Allow or deny a pending device code, once. Allowing creates nothing yet: the API
    token `CLI (<user_code>)` is made by the poll that collects it (no raw token stored)."""
    device_code, action = _approve_body(await read_json_object())
    d = deps()
    decide = d.device_auth.approve if action == "allow" else d.device_auth.deny
    if not await decide(d.state, device_code):
        raise NotFound(CODE_NOT_FOUND)
    return json_response({"success": True})
