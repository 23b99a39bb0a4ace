"""Builds the quart-trio app: blueprints, the error mapping and the edge middleware."""

from __future__ import annotations

from quart_trio import QuartTrio

from lunard.http import (
    analytics,
    auth_routes,
    docs,
    executions,
    functions,
    metrics,
    ops,
    portable,
    tokens,
    versions,
    web,
)
from lunard.http.deps import AppDeps
from lunard.http.draining import DrainingLayer
from lunard.http.errors import register_error_handlers
from lunard.http.middleware import EdgeMiddleware
from lunard.http.runtime import FunctionRuntime

MAX_API_BODY = 16 * 1024 * 1024


def create_app(app_deps: AppDeps) -> QuartTrio:
    """The ASGI app for one daemon; `app_deps` is reachable from handlers via `deps()`."""
    app = QuartTrio("lunard")
    app.extensions["lunard"] = app_deps
    # Management bodies are small (code is at most 1 MiB); a public route such as login must
    # not buffer an unbounded body. Past the cap: 413 JSON. /fn has its own configured cap.
    app.config["MAX_CONTENT_LENGTH"] = MAX_API_BODY
    app.config["BODY_TIMEOUT"] = None
    app.url_map.strict_slashes = False
    blueprints = (
        ops,
        metrics,
        auth_routes,
        tokens,
        functions,
        versions,
        executions,
        analytics,
        portable,
        docs,
    )
    for module in blueprints:
        app.register_blueprint(module.bp)
    register_error_handlers(app)
    # The dashboard's files answer only what no Quart route knows (web.py).
    dashboard = web.WebAssets(app.asgi_app, app.url_map)  # type: ignore[arg-type]
    # While draining, every response (also the edge's own) says Connection: close.
    edge = DrainingLayer(EdgeMiddleware(dashboard), app_deps.readiness)
    # Outermost: /fn is served before the edge layers, doing their work itself.
    app.asgi_app = FunctionRuntime(edge, app_deps)  # type: ignore[method-assign,assignment]
    return app
