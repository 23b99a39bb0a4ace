"""The one mapping from exceptions to HTTP answers (`{"error": ...}` bodies)."""

from __future__ import annotations

import logging

from quart import Quart, Response
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from lunard.errors import LunardError, Overloaded
from lunard.http.responses import json_response

log = logging.getLogger(__name__)


def error_reply(exc: LunardError) -> tuple[int, dict[str, str], dict[str, str]]:
    """Status, extra headers and JSON body for one of our errors: the one mapping, used by
    the Quart routes and by the `/fn` layer alike."""
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Overloaded) else {}
    if exc.status >= 500:
        log.error("%s: %s", type(exc).__name__, exc.message)
    return exc.status, headers, {"error": exc.message}


def _lunard_error(exc: LunardError) -> Response:
    status, headers, body = error_reply(exc)
    return json_response(body, status, headers)


def _http_exception(exc: HTTPException) -> Response:
    if isinstance(exc, RequestEntityTooLarge):
        return json_response({"error": "Request body too large"}, 413)
    code = exc.code or 500
    if code == 404:
        return Response("404 page not found\n", 404, content_type="text/plain; charset=utf-8")
    if code == 405:
        return Response("405 method not allowed\n", 405, content_type="text/plain; charset=utf-8")
    return json_response({"error": exc.description or exc.name}, code)


def _unexpected(exc: Exception) -> Response:
    log.exception("internal error", exc_info=exc)
    return json_response({"error": "Internal server error"}, 500)


def register_error_handlers(app: Quart) -> None:
    """Install the mapping on `app`: our errors, werkzeug's HTTP errors, everything else."""
    app.register_error_handler(LunardError, _lunard_error)
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(Exception, _unexpected)
