"""The worker's one outbound HTTP client (for `http`, `ai`, `email`), owned by its main loop.

Created on first use and reused by every execution of the worker: connections stay warm,
and nothing per-function leaks through it (no cookie jar, no process environment). httpx is
imported then too: it is a tenth of a second of every worker start otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx


def _new_client() -> httpx.Client:
    import http.cookiejar

    import httpx

    jar = http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    client = httpx.Client(
        cookies=jar,
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": "lunard", "Accept-Encoding": "gzip"},
    )
    # httpx adds `Accept: */*` by default; Go sends no Accept header.
    del client.headers["Accept"]
    return client


class OutboundClient:
    """Holds the httpx client; `get()` creates it on first use."""

    def __init__(self) -> None:
        self._client: httpx.Client | None = None

    def get(self) -> httpx.Client:
        if self._client is None:
            self._client = _new_client()
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
