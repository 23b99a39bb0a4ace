"""The dashboard's static serving (issue 10): content types, caching, CSP, fallbacks, 404s."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from lunard.http import web
from tests.daemon import Daemon

WEB_DIR = Path(web.__file__).resolve().parent.parent / "web"
VENDORED = sorted(p.relative_to(WEB_DIR).as_posix() for p in WEB_DIR.glob("vendor/*@*/*"))


def raw_get(daemon: Daemon, target: str) -> tuple[int, bytes]:
    """GET `target` byte for byte (no client-side normalisation of `..` or `%2e`)."""
    url = urlsplit(daemon.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.partition(b"\r\n\r\n")[2]


def directives(response: httpx.Response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    pairs = (d.strip().partition(" ") for d in policy.split(";") if d.strip())
    return {name: value for name, _, value in pairs}


def test_root_serves_the_app_page(anon: httpx.Client) -> None:
    response = anon.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert '<div id="app"></div>' in response.text
    assert '<script type="module" src="/js/app.js"></script>' in response.text


def test_page_has_a_strict_csp_and_cannot_be_framed(anon: httpx.Client) -> None:
    response = anon.get("/")
    policy = directives(response)
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert "unsafe-inline" not in policy["script-src"]
    assert "unsafe-eval" not in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_page_has_no_inline_script_or_style(anon: httpx.Client) -> None:
    html = anon.get("/").text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "<style" not in html
    assert not re.search(r"\son\w+=", html)
    assert not re.search(r"\sstyle=", html)


def test_style_nonce_is_fresh_per_response_and_matches_the_page(anon: httpx.Client) -> None:
    nonces = []
    for _ in range(2):
        response = anon.get("/")
        match = re.search(r"'nonce-([A-Za-z0-9_-]+)'", directives(response)["style-src"])
        assert match
        assert f'<meta name="csp-nonce" content="{match.group(1)}">' in response.text
        nonces.append(match.group(1))
    assert nonces[0] != nonces[1]


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/js/app.js", "text/javascript; charset=utf-8"),
        ("/js/api.js", "text/javascript; charset=utf-8"),
        ("/css/app.css", "text/css; charset=utf-8"),
        ("/css/favicon.svg", "image/svg+xml"),
    ],
)
def test_own_assets_have_their_type_and_no_cache(
    anon: httpx.Client, path: str, content_type: str
) -> None:
    response = anon.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["etag"]
    assert "content-security-policy" not in response.headers


def test_vendored_files_are_immutable(anon: httpx.Client) -> None:
    assert any(p.endswith("mithril.min.js") for p in VENDORED)
    assert any(p.endswith("codemirror.min.js") for p in VENDORED)
    assert any(p.endswith("uPlot.iife.min.js") for p in VENDORED)
    for path in VENDORED:
        response = anon.get(f"/{path}")
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.content == (WEB_DIR / path).read_bytes()


def test_vendor_readme_lists_the_sha256_of_every_vendored_file() -> None:
    import hashlib

    readme = (WEB_DIR / "vendor" / "README.md").read_text()
    for path in VENDORED:
        digest = hashlib.sha256((WEB_DIR / path).read_bytes()).hexdigest()
        assert f"| `{path.removeprefix('vendor/')}` | `{digest}` |" in readme, path


def test_vendor_paths_module_names_existing_files() -> None:
    paths = re.findall(r'"(/vendor/[^"]+)"', (WEB_DIR / "js" / "vendor.js").read_text())
    assert len(paths) == 4
    for path in paths:
        assert (WEB_DIR / path.lstrip("/")).is_file(), path


def test_index_loads_the_vendored_mithril(anon: httpx.Client) -> None:
    src = re.search(r'<script src="(/vendor/mithril@[^"]+)"', anon.get("/").text)
    assert src
    assert anon.get(src.group(1)).status_code == 200


def test_etag_revalidation_answers_304(anon: httpx.Client) -> None:
    first = anon.get("/js/app.js")
    again = anon.get("/js/app.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_gzip_when_accepted(anon: httpx.Client) -> None:
    path = next(p for p in VENDORED if p.endswith("codemirror.min.js"))
    response = anon.get(f"/{path}", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == (WEB_DIR / path).read_bytes()  # httpx decodes it


def test_head_has_headers_without_body(anon: httpx.Client) -> None:
    response = anon.head("/js/app.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.content == b""


@pytest.mark.parametrize("path", ["/functions", "/functions/abc/settings", "/login", "/a/b/c"])
def test_other_gets_fall_back_to_the_app_page(anon: httpx.Client, path: str) -> None:
    response = anon.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "content-security-policy" in response.headers


@pytest.mark.parametrize(
    "path",
    ["/js/missing.js", "/css/missing.css", "/vendor/nope@1.0.0/x.js", "/favicon.ico", "/x.png"],
)
def test_missing_files_are_plain_404s(anon: httpx.Client, path: str) -> None:
    response = anon.get(path)
    assert response.status_code == 404
    assert response.text == "404 page not found\n"


@pytest.mark.parametrize(
    "path", ["/api/nope", "/api", "/api/functions/x/nope", "/docs/nope", "/docs/x/y"]
)
def test_unknown_api_and_docs_paths_keep_their_404(anon: httpx.Client, path: str) -> None:
    response = anon.get(path)
    assert response.status_code == 404
    assert "text/html" not in response.headers.get("content-type", "")
    assert "<html" not in response.text.lower()


def test_unknown_function_keeps_its_json_404(anon: httpx.Client) -> None:
    response = anon.get("/fn/nosuchfunction/some/page")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "Function not found"}


def test_api_routes_are_not_shadowed(anon: httpx.Client, api: httpx.Client) -> None:
    assert anon.get("/api/functions").status_code == 401
    assert api.get("/api/functions").status_code == 200
    assert anon.get("/healthz").status_code == 200
    assert anon.get("/llms.txt").headers["content-type"].startswith("text/plain")
    assert anon.get("/docs").headers["content-type"] == "text/html; charset=utf-8"


def test_a_wrong_method_on_an_api_route_is_not_the_app(anon: httpx.Client) -> None:
    response = anon.get("/api/auth/login")
    assert not response.is_success
    assert "<html" not in response.text.lower()


def test_only_get_and_head_reach_the_files(anon: httpx.Client) -> None:
    for method in ("POST", "PUT", "DELETE"):
        response = anon.request(method, "/js/app.js")
        assert not response.is_success, method
        assert "<html" not in response.text.lower()


@pytest.mark.parametrize(
    "target",
    [
        "/js/../../pyproject.toml",
        "/js/%2e%2e/%2e%2e/pyproject.toml",
        "/js/..%2frefresh_vendor.py",
        "/css/..%5c..%5cpyproject.toml",
        "/vendor/../refresh_vendor.py",
        "/js/./app.js",
        "/.git/config",
        "/refresh_vendor.py",
        "/CONTRACT.md",
        "/vendor_build/package.json",
        "//etc/passwd",
    ],
)
def test_path_traversal_is_refused(daemon: Daemon, target: str) -> None:
    status, body = raw_get(daemon, target)
    # Either a 404 or the app page, never a file outside css/, js/, vendor/.
    assert status in (200, 404)
    if status == 200:
        assert b'<div id="app"></div>' in body
    assert b"[project]" not in body
    assert b"def main" not in body


def test_resolve_refuses_escapes(tmp_path: Path) -> None:
    root = tmp_path / "web"
    (root / "js").mkdir(parents=True)
    (root / "js" / "a.js").write_text("ok")
    (tmp_path / "secret.txt").write_text("secret")
    (root / "js" / "link.js").symlink_to(tmp_path / "secret.txt")
    assert web.resolve(root, "/js/a.js") == (root / "js" / "a.js").resolve()
    for bad in ["/js/../../secret.txt", "/js/link.js", "/js/.hidden", "/js/", "/js\\a.js", "/x"]:
        assert web.resolve(root, bad) is None, bad
