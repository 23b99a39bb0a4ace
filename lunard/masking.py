"""Redaction of secrets before anything is stored (lua-runtime §9, platform §5, http-api §4.6).

Only stored copies are masked: the handler always sees the real event. The replacement is
the string `[REDACTED]` everywhere.

- headers: masked when the lower-cased name contains a sensitive fragment;
- query parameters: same rule with the query list;
- JSON bodies (event body, AI/email request and response JSON): object fields whose name
  equals a sensitive word, or starts with it followed by `_` or `-`, are replaced whole; the
  document is re-serialised the way Go does (compact, sorted keys). Non-JSON text is kept;
- log messages: a fixed list of regexes, each whole match replaced.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lunard import gojson

if TYPE_CHECKING:
    from lunard.wire import HttpEvent

REDACTED = "[REDACTED]"

_HEADER_FRAGMENTS = (
    "authorization",
    "cookie",
    "x-api-key",
    "x-auth-token",
    "proxy-authorization",
    "token",
    "key",
    "secret",
    "password",
    "auth",
)
_QUERY_FRAGMENTS = (
    "api_key",
    "apikey",
    "access_token",
    "token",
    "secret",
    "password",
    "auth",
    "key",
)
_BODY_FIELDS = (
    "password",
    "secret",
    "api_key",
    "apikey",
    "access_token",
    "private_key",
    "client_secret",
    "token",
    "auth",
    "authorization",
    "bearer",
    "credential",
    "credentials",
)
_BODY_EXACT = frozenset(_BODY_FIELDS)
_BODY_PREFIXES = tuple(f"{word}{sep}" for word in _BODY_FIELDS for sep in ("_", "-"))

# Go's RE2 `\s` is ASCII whitespace only, hence re.ASCII.
_LOG_PATTERNS = tuple(
    re.compile(pattern, re.ASCII)
    for pattern in (
        r"eyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*",
        r"(?i)bearer\s+[A-Za-z0-9_\-.]+",
        r"(?i)(api[_-]?key|apikey|key)[\s:=]+[A-Za-z0-9_\-]{15,}",
        r"(?i)(token|secret|password)[\s:=]+[A-Za-z0-9_\-]{10,}",
        r"AKIA[0-9A-Z]{16}",
        r"(?i)(secret|token|password)[\s:=]+[A-Za-z0-9+/]{40,}={0,2}",
    )
)


# "Contains one of the fragments" as one regex search (faster than a loop over them).
_HEADER_SEARCH = re.compile("|".join(map(re.escape, _HEADER_FRAGMENTS))).search
_QUERY_SEARCH = re.compile("|".join(map(re.escape, _QUERY_FRAGMENTS))).search


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of `headers` with every sensitive header's value replaced."""
    search = _HEADER_SEARCH
    return {name: REDACTED if search(name.lower()) else value for name, value in headers.items()}


def mask_query(query: Mapping[str, str]) -> dict[str, str]:
    """A copy of `query` with every sensitive parameter's value replaced."""
    search = _QUERY_SEARCH
    return {name: REDACTED if search(name.lower()) else value for name, value in query.items()}


def is_sensitive_field(name: str) -> bool:
    """Whether a JSON object field is redacted (`auth_token` yes, `completion_tokens` no)."""
    lowered = name.lower()
    return lowered in _BODY_EXACT or lowered.startswith(_BODY_PREFIXES)


def mask_json_value(value: Any) -> Any:
    """`value` (as parsed from JSON) with sensitive object fields replaced, recursively."""
    if isinstance(value, dict):
        return {
            key: REDACTED if is_sensitive_field(key) else mask_json_value(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_json_value(item) for item in value]
    return value


def mask_json_text(text: str) -> str:
    """A JSON document masked and re-serialised like Go; non-JSON (or empty) text unchanged."""
    if not text:
        return text
    try:
        parsed = gojson.loads(text)
    except gojson.DecodeError:
        return text
    try:
        return gojson.dumps(mask_json_value(parsed), max_depth=100_000)
    except (RecursionError, gojson.UnsupportedValue):
        # Parsed but too deep to re-serialise: storing it unmasked could leak a secret.
        return REDACTED


def mask_log_message(message: str) -> str:
    """A log line with tokens, keys and passwords replaced (each whole match, keyword too)."""
    for pattern in _LOG_PATTERNS:
        message = pattern.sub(REDACTED, message)
    return message


def masked_event_json(
    method: str,
    path: str,
    relative_path: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    body: str,
) -> str:
    """The `event_json` stored with an execution: the event with headers/query/body masked.

    Keys in upstream's struct order (`method, path, relativePath, headers, body, query`),
    Go's escaping and compact form; `method`, `path` and `relativePath` are kept as given.
    """
    quote = gojson.quote
    return (
        '{"method":' + quote(method)
        + ',"path":' + quote(path)
        + ',"relativePath":' + quote(relative_path)
        + ',"headers":' + gojson.dumps_string_map(mask_headers(headers))
        + ',"body":' + quote(mask_json_text(body))
        + ',"query":' + gojson.dumps_string_map(mask_query(query))
        + "}"
    )  # fmt: skip


def masked_event(event: HttpEvent) -> str:
    """`masked_event_json` of a job's event (body bytes read as UTF-8, bad bytes replaced).

    The worker computes it for every job it runs (`JobResult.event_json`); the daemon only
    for a call that never got an answer from a worker (timeout, crash).
    """
    return masked_event_json(
        event.method,
        event.path,
        event.relative_path,
        event.headers,
        event.query,
        event.body.decode("utf-8", errors="replace"),
    )
