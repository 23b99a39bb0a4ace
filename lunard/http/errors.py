"""The one mapping from exceptions to HTTP answers (`{"error": ...}` bodies)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from quart import Quart, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from lunard.errors import LunardError, Overloaded
from lunard.http.responses import json_response

log = logging.getLogger(__name__)

METHOD_NOT_ALLOWED = "405 method not allowed\n"
# The order Go's mux lists methods in (RFC 9110 leaves it open); unknown ones go last.
_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allow_value(methods: Iterable[str]) -> str:
    """The `Allow` header of a 405 (RFC 9110 §15.5.6): the methods the resource serves."""
    wanted = {m.upper() for m in methods}
    known = [m for m in _METHOD_ORDER if m in wanted]
    return ", ".join(known + sorted(wanted - set(_METHOD_ORDER)))


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
        allowed = exc.valid_methods if isinstance(exc, MethodNotAllowed) else None
        headers = {"Allow": allow_value(allowed)} if allowed else {}
        return Response(METHOD_NOT_ALLOWED, 405, headers, content_type="text/plain; charset=utf-8")
    return json_response({"error": exc.description or exc.name}, code)


def _unexpected(exc: Exception) -> Response:
    log.exception("internal error", exc_info=exc)
    return json_response({"error": "Internal server error"}, 500)


async def _read_body_first(response: Response) -> Response:
    """Receive the whole request body before any answer goes out.

    An answer that needs no body (a 405 from routing, a 401, a 404) can be complete before
    the client has sent the body it announced. hypercorn (0.18) then neither reuses nor
    closes the connection, and the client's next request on it hangs until its read timeout
    (found by schemathesis; a client that sends headers and body in two writes, as Python's
    `http.client` does, meets it on an idle machine). Reading the body first keeps the
    connection reusable; when the body cannot be read (over the limit, cut short) the answer
    says `Connection: close`, so the client does not reuse it.
    """
    try:
        await request.get_data()
    except HTTPException:
        response.headers["Connection"] = "close"
    return response


def register_error_handlers(app: Quart) -> None:
    """Install the mapping on `app`: our errors, werkzeug's HTTP errors, everything else;
    and make every answer wait for the request body (`_read_body_first`)."""
    app.register_error_handler(LunardError, _lunard_error)
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(Exception, _unexpected)
    app.after_request(_read_body_first)
