"""Outbound HTTP for `http`, `ai` and `email`, through the worker's one client
(`host.outbound`, see `lunard.worker.http_client`).

Limits (DECISIONS 4):
- timeout: every hop gets `min(default, host.remaining())` for connect, write, pool and each
  read, so a call never waits long past the execution's deadline; the body loop also stops
  at the deadline. (The pool kills a worker whose execution outlives its budget anyway;
  this makes the Lua code see `nil, err` first whenever it can.)
- response size: bodies are streamed and refused past `limits.http_max_response_bytes`
  (counted after decompression, so a compressed bomb is refused too).
- redirects: followed by hand, up to 10 like Go's client (the 11th fails), each hop with
  its own remaining-time timeout; httpx decides method, body and header changes per hop.

The client keeps no cookies (Go's default client has no jar, and a jar shared by the
executions of a worker would leak one function's cookies to another) and ignores the
process environment (`trust_env=False`: no proxy variables, no ~/.netrc credentials).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lunard.worker.host import HostContext

if TYPE_CHECKING:  # imported on first use: a worker that makes no outbound call never pays it
    import httpx

DEFAULT_TIMEOUT_S = 30.0
"""Upstream's shared client timeout (lua-runtime §6.4, §6.13)."""

MAX_REDIRECTS = 10

_GO_VERBS = {"GET": "Get", "POST": "Post", "PUT": "Put", "DELETE": "Delete"}


class OutboundError(Exception):
    """An outbound call that produced no usable response; the text says why."""


class RequestError(OutboundError):
    """The request could not be built (a URL or header httpx refuses)."""


class TransportError(OutboundError):
    """Sending, or waiting for the response head, failed (DNS, refused, TLS, timeout...).

    The text reads like Go's `*url.Error`: `Get "<url>": <reason>`.
    """


class BodyError(OutboundError):
    """Reading the response body failed, ran out of time, or passed the size cap."""


@dataclass(frozen=True)
class Response:
    """A complete response: status, raw header pairs in arrival order, body."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


def _hop_timeout(host: HostContext, default: float, verb: str, url: str) -> float:
    remaining = host.remaining()
    if remaining <= 0:
        raise TransportError(f'{verb} "{url}": execution deadline exceeded')
    return min(default, remaining)


def _timeout_reason(host: HostContext, default: float) -> str:
    if host.remaining() <= 0 or host.remaining() < default:
        return "timed out: execution deadline exceeded"
    return f"timed out after {default:g}s (client timeout)"


def fetch(
    host: HostContext,
    method: str,
    url: str,
    *,
    headers: list[tuple[bytes, bytes]],
    body: bytes | None = None,
    decode: bool = True,
    default_timeout: float = DEFAULT_TIMEOUT_S,
) -> Response:
    """Send one request (following redirects) and read the whole body; raise OutboundError.

    `decode=False` hands the body over as sent (no gzip decoding), what Go does when the
    caller set `Accept-Encoding` itself. When the body was decoded, `Content-Encoding` and
    `Content-Length` are dropped from the headers, as Go's transport does.
    """
    import httpx

    verb = _GO_VERBS.get(method, method)
    session = host.outbound.get()
    try:
        request = session.build_request(method, url, headers=headers, content=body)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise RequestError(str(exc) or type(exc).__name__) from None
    hops = 0
    while True:
        current = str(request.url)
        timeout = _hop_timeout(host, default_timeout, verb, current)
        request.extensions["timeout"] = httpx.Timeout(timeout).as_dict()
        try:
            response = session.send(request, stream=True)
        except httpx.TimeoutException:
            raise TransportError(
                f'{verb} "{current}": {_timeout_reason(host, default_timeout)}'
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            raise TransportError(f'{verb} "{current}": {_reason(exc)}') from None
        if response.next_request is None:
            break
        response.close()
        hops += 1
        request = response.next_request
        if hops > MAX_REDIRECTS:
            raise TransportError(f'{verb} "{request.url}": stopped after {MAX_REDIRECTS} redirects')
    try:
        content = _read_body(response, host, default_timeout, decode)
    finally:
        response.close()
    return Response(response.status_code, _response_headers(response, decode), content)


def _reason(exc: Exception) -> str:
    text = str(exc)
    return text if text else type(exc).__name__


def _read_body(
    response: httpx.Response, host: HostContext, default_timeout: float, decode: bool
) -> bytes:
    import httpx

    cap = host.limits.http_max_response_bytes
    too_large = f"response body exceeds the limit of {cap} bytes (http_max_response_bytes)"
    declared = response.headers.get("Content-Length", "")
    encoded = "Content-Encoding" in response.headers
    if declared.isdigit() and int(declared) > cap and not (decode and encoded):
        raise BodyError(too_large)
    chunks: list[bytes] = []
    total = 0
    try:
        for chunk in response.iter_bytes() if decode else response.iter_raw():
            total += len(chunk)
            if total > cap:
                raise BodyError(too_large)
            if host.remaining() <= 0:
                raise BodyError("execution deadline exceeded")
            chunks.append(chunk)
    except httpx.TimeoutException:
        raise BodyError(_timeout_reason(host, default_timeout)) from None
    except httpx.HTTPError as exc:
        raise BodyError(_reason(exc)) from None
    return b"".join(chunks)


def _response_headers(response: httpx.Response, decoded: bool) -> list[tuple[bytes, bytes]]:
    pairs = list(response.headers.raw)
    if decoded and "Content-Encoding" in response.headers:
        dropped = {b"content-encoding", b"content-length"}
        pairs = [(name, value) for name, value in pairs if name.lower() not in dropped]
    return pairs
