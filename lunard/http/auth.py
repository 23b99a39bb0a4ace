"""Authentication of protected routes (http-api §2.2, DECISIONS 7).

Accepted, first match wins: the `auth_token` cookie holding a live dashboard session (or,
for compatibility with Lunar clients, the admin key itself); `Authorization: Bearer` with
the admin key (constant-time comparison) or a non-revoked API token.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from quart import request

from lunard.errors import Unauthorized
from lunard.http.deps import deps
from lunard.state import tokens

COOKIE_NAME = "auth_token"
AUTH_REQUIRED = "Authentication required"

P = ParamSpec("P")
R = TypeVar("R")


def is_admin_key(candidate: str, admin_key: str) -> bool:
    """Constant-time comparison against the admin key."""
    return hmac.compare_digest(candidate.encode(), admin_key.encode())


async def is_authenticated() -> bool:
    """Whether the current request carries valid credentials."""
    d = deps()
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie:
        if is_admin_key(cookie, d.api_key):
            return True
        if await d.state.call(lambda c: tokens.session_valid(c, cookie)):
            return True
    header = request.headers.get("Authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme != "Bearer" or not credential:
        return False
    if is_admin_key(credential, d.api_key):
        return True
    return await d.state.call(lambda c: tokens.use_token(c, credential))


def require_auth(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Decorator for protected routes: 401 `Authentication required` without credentials."""

    @wraps(handler)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not await is_authenticated():
            raise Unauthorized(AUTH_REQUIRED)
        return await handler(*args, **kwargs)

    return wrapper
