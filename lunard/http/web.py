"""The dashboard: static files of `lunard/web/` and the single-page app at `/`.

A plain ASGI layer in front of the Quart app. It only answers GET/HEAD requests that no
Quart route knows and that are not under the API prefixes (`/api`, `/fn`, `/docs`), so every
API 404/405 stays exactly what it was. What it answers:

- `/` and other extension-less paths (`/functions`, ...) -> `index.html` (the app routes by
  the hash, `#!/...`, so this fallback only helps a bookmarked plain path);
- files under `css/`, `js/`, `vendor/` -> the file, or a plain 404 when it does not exist.

`index.html` carries a strict Content-Security-Policy (with a per-response style nonce) and
cannot be framed. Versioned vendor files (`/vendor/<lib>@<version>/...`) are immutable;
everything else is `no-cache` with an ETag, so a new daemon's files are picked up at once.
Paths are resolved segment by segment and must stay inside the package directory (no `..`,
no hidden files, no symlink escape).
"""

from __future__ import annotations

import gzip
import hashlib
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import trio
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, RequestRedirect

from lunard.http.middleware import ASGIApp, Receive, Scope, Send

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
INDEX = "index.html"
ASSET_DIRS = frozenset({"css", "js", "vendor"})
RESERVED = ("/api", "/fn", "/docs")
VERSIONED = re.compile(r"^vendor/[A-Za-z0-9._-]+@[A-Za-z0-9._+-]+/")
SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9_@+-][A-Za-z0-9._@+-]*$")
COMPRESSIBLE = frozenset({".js", ".css", ".html", ".svg", ".json", ".md", ".txt"})
MIN_GZIP = 1024

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
}

# No inline script and no eval. CodeMirror injects its theme as <style> elements: they carry
# a fresh per-response nonce, which index.html hands to the app in `<meta name="csp-nonce">`
# (the only templated byte of the page). Style *attributes* are allowed (`style-src-attr`)
# because CodeMirror writes one (`style="tab-size: 2"`) on its content element; an
# attribute cannot carry selectors and `img-src` keeps url() on this origin, so it cannot
# leak data. A saved HTML response is previewed in a srcdoc iframe sandboxed without
# scripts; it inherits this policy, so its own <style> blocks stay off too (the code view
# shows the exact HTML).
NONCE_PLACEHOLDER = b"__CSP_NONCE__"
CSP_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'nonce-{nonce}'",
    "style-src-attr 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "frame-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


def csp(nonce: str) -> str:
    """The page's Content-Security-Policy for one response's style nonce."""
    return "; ".join(CSP_DIRECTIVES).format(nonce=nonce)


IMMUTABLE = b"public, max-age=31536000, immutable"
NO_CACHE = b"no-cache"
NOT_FOUND = b"404 page not found\n"


@dataclass(frozen=True)
class Asset:
    """One file as served: body, gzip body (if worth it), ETag, identity of the disk file."""

    body: bytes
    gzipped: bytes | None
    etag: bytes
    stamp: tuple[int, int]


def resolve(root: Path, url_path: str) -> Path | None:
    """The file under `root` named by a URL path, or None (unknown, unsafe or not a file)."""
    parts = url_path.strip("/").split("/")
    if not parts or not all(SAFE_SEGMENT.match(p) for p in parts):
        return None
    if parts != [INDEX] and parts[0] not in ASSET_DIRS:
        return None
    candidate = root.joinpath(*parts)
    try:
        real = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not real.is_relative_to(root.resolve()) or not real.is_file():
        return None
    return real


def wants_index(url_path: str) -> bool:
    """A GET the app answers with index.html: not an asset directory, no file extension."""
    parts = url_path.strip("/").split("/")
    if parts[0] in ASSET_DIRS:
        return False
    return "." not in parts[-1]


def reserved(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in RESERVED)


class WebAssets:
    """ASGI layer serving the dashboard; everything else goes to `app` untouched."""

    def __init__(self, app: ASGIApp, url_map: Map, root: Path = WEB_DIR) -> None:
        self.app = app
        self.root = root
        self.routes = url_map.bind("localhost")
        self.cache: dict[Path, Asset] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.ours(scope):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        file = resolve(self.root, INDEX if path == "/" else path)
        if file is None and wants_index(path):
            file = self.root / INDEX
        if file is None or not file.is_file():
            await respond(send, 404, [(b"content-type", b"text/plain; charset=utf-8")], NOT_FOUND)
            return
        await self.serve(scope, send, file)

    def ours(self, scope: Scope) -> bool:
        """GET/HEAD outside the API prefixes that no Quart route (any method) matches."""
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return False
        path = scope["path"]
        if reserved(path):
            return False
        try:
            self.routes.match(path, method="GET")
        except NotFound:
            return True
        except (MethodNotAllowed, RequestRedirect):
            return False
        return False

    async def load(self, file: Path) -> Asset:
        """The file's bytes, re-read only when its size or mtime changed."""
        stat = await trio.Path(file).stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = self.cache.get(file)
        if cached is not None and cached.stamp == stamp:
            return cached
        body = await trio.Path(file).read_bytes()
        gzipped = None
        if file.suffix in COMPRESSIBLE and len(body) >= MIN_GZIP:
            gzipped = await trio.to_thread.run_sync(lambda: gzip.compress(body, mtime=0))
        etag = b'"' + hashlib.sha256(body).hexdigest()[:20].encode() + b'"'
        asset = Asset(body, gzipped, etag, stamp)
        self.cache[file] = asset
        return asset

    async def serve(self, scope: Scope, send: Send, file: Path) -> None:
        asset = await self.load(file)
        if file.suffix == ".html":
            await self.serve_page(scope, send, asset)
            return
        relative = file.relative_to(self.root.resolve()).as_posix()
        headers = [
            (b"content-type", CONTENT_TYPES.get(file.suffix, "application/octet-stream").encode()),
            (b"cache-control", IMMUTABLE if VERSIONED.match(relative) else NO_CACHE),
            (b"etag", asset.etag),
            (b"vary", b"Accept-Encoding"),
            *SECURITY_HEADERS,
        ]
        request_headers = dict(scope.get("headers", []))
        if request_headers.get(b"if-none-match") == asset.etag:
            await respond(send, 304, headers, b"")
            return
        body = asset.body
        if asset.gzipped is not None and b"gzip" in request_headers.get(b"accept-encoding", b""):
            body = asset.gzipped
            headers.append((b"content-encoding", b"gzip"))
        headers.append((b"content-length", str(len(body)).encode()))
        await respond(send, 200, headers, b"" if scope["method"] == "HEAD" else body)

    async def serve_page(self, scope: Scope, send: Send, asset: Asset) -> None:
        """index.html with a fresh style nonce (so no ETag and never a 304)."""
        nonce = secrets.token_urlsafe(18)
        body = asset.body.replace(NONCE_PLACEHOLDER, nonce.encode())
        headers = [
            (b"content-type", CONTENT_TYPES[".html"].encode()),
            (b"cache-control", NO_CACHE),
            (b"content-security-policy", csp(nonce).encode()),
            *SECURITY_HEADERS,
            (b"content-length", str(len(body)).encode()),
        ]
        await respond(send, 200, headers, b"" if scope["method"] == "HEAD" else body)


async def respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
