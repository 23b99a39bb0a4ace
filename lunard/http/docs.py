"""Routes: the API reference (`/docs`, `/docs/openapi.yaml`) and the Lua guide (`/llms.txt`).

All three are public. The OpenAPI document and the guide are package files served
byte-for-byte; `/docs` is a small page whose viewer (Swagger UI, fetched by the browser)
renders `/docs/openapi.yaml`. Nothing here is fetched by the daemon itself.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from quart import Blueprint, Response

bp = Blueprint("docs", __name__)

OPENAPI_FILE = "openapi.yaml"
LLMS_FILE = "llms.txt"
NO_STORE = {"Cache-Control": "no-store"}

DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>lunard API reference</title>
  <link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head>
<body>
  <noscript>
    This page needs JavaScript. The OpenAPI document itself is at
    <a href="/docs/openapi.yaml">/docs/openapi.yaml</a>.
  </noscript>
  <div id="swagger-ui"></div>
  <script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({url: "/docs/openapi.yaml", dom_id: "#swagger-ui"});
  </script>
</body>
</html>
"""


@cache
def bundled(name: str) -> bytes:
    """A file shipped in the `lunard.http` package, read once (it cannot change at runtime)."""
    return resources.files("lunard.http").joinpath(name).read_bytes()


@bp.route("/docs", methods=["GET", "HEAD"])
async def docs_page() -> Response:
    """The HTML API reference page; HEAD gives the same headers without a body."""
    return Response(DOCS_PAGE, content_type="text/html; charset=utf-8", headers=NO_STORE)


@bp.route("/docs/openapi.yaml", methods=["GET", "HEAD"])
async def openapi_yaml() -> Response:
    """The bundled OpenAPI 3.1 document, byte-for-byte."""
    return Response(bundled(OPENAPI_FILE), content_type="application/yaml", headers=NO_STORE)


@bp.get("/llms.txt")
async def llms_txt() -> Response:
    """The guide to writing lunard functions, for people and LLM agents."""
    return Response(bundled(LLMS_FILE), content_type="text/plain; charset=utf-8")
