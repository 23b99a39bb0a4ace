"""`email` — send mail through Resend (lua-runtime §6.14, §10).

`email.send(options)` → `{id = "<resend id>"}, nil` or `nil, err`. Validation failures
(`to`, `from`, `subject`, text/html) return at once and are not tracked. A missing
`RESEND_API_KEY`, a transport or Resend error, and a success each append one
`EmailRequestRow` to `host.email_requests`.

Tracking rows travel back with the JobResult and the sink writes them with the execution.
A worker killed on timeout returns nothing, so no half-written record can exist.

Credentials and the base URL come from the function's env (`RESEND_API_KEY`,
`RESEND_BASE_URL`), never from the daemon's process environment (DECISIONS 2). The request
is `POST <base>/emails` resolved like Go's `URL.ResolveReference` (so a base with a path
needs a trailing slash to keep it); `request_json` stores the same document that was sent,
masked; `response_json` the body Resend answered, masked.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

from lunard import gojson
from lunard.masking import mask_json_text
from lunard.wire import EmailRequestRow
from lunard.worker.host import HostContext
from lunard.worker.modules import outbound
from lunard.worker.modules.bridge import (
    Bridge,
    LuaFunction,
    ModuleSpec,
    as_int,
    field_string,
    is_table,
    table_items,
)
from lunard.worker.modules.gotime import utc_fields
from lunard.worker.modules.json import python_to_lua
from lunard.worker.modules.options import field, field_text
from lunard.worker.modules.tracking import CallClock, outcome_fields, record
from lunard.worker.modules.url import URLError, parse_url

_COMPACT = (",", ":")  # request bodies are compact, like Go's json.Marshal

DEFAULT_BASE_URL = "https://api.resend.com/"
KEY_VAR = "RESEND_API_KEY"
BASE_URL_VAR = "RESEND_BASE_URL"


class SendError(Exception):
    """A tracked failure; the text is what Lua receives as `err`, with Resend's body if any."""

    def __init__(self, message: str, response_text: str | None = None) -> None:
        super().__init__(message)
        self.response_text = response_text


@dataclass(frozen=True)
class Email:
    """A validated `email.send` call: the Resend document and what the row records."""

    from_address: str
    to: list[str]
    subject: str
    text: str
    html: str
    document: dict[str, Any]


def _text(value: Any) -> str:
    return field_string(value).decode("utf-8", "replace")


def _is_string(value: Any) -> bool:
    return isinstance(value, (str, bytes))


def _list(value: Any) -> list[str]:
    """A string as one entry, a table's as-string values (empty ones dropped), else []."""
    if _is_string(value):
        text = _text(value)
        return [text] if text else []
    if is_table(value):
        return [text for _, item in table_items(value) if (text := _text(item))]
    return []


def _recipients(value: Any) -> list[str] | str:
    """`to` as a list, or the validation message (step 1 of §6.14)."""
    if value is None:
        return "to is required"
    if _is_string(value):
        return [_text(value)]
    if not is_table(value):
        return "to must be a string or table of strings"
    recipients = _list(value)
    return recipients if recipients else "to cannot be empty"


def _headers(value: Any) -> dict[str, str]:
    if not is_table(value):
        return {}
    return {
        _text(key): _text(item)
        for key, item in table_items(value)
        if _is_string(key) or (isinstance(key, (int, float)) and not isinstance(key, bool))
    }


def _tags(value: Any) -> list[dict[str, str]]:
    if not is_table(value):
        return []
    tags = []
    for _, entry in table_items(value):
        if not is_table(entry):
            continue
        name = field_text(entry, "name")
        if name:
            tags.append({"name": name, "value": field_text(entry, "value")})
    return tags


def rfc3339_utc(seconds: int) -> str:
    """Unix seconds as Go's `time.Unix(s, 0).UTC().Format(time.RFC3339)`, any year."""
    f = utc_fields(seconds)
    sign = "-" if f.year < 0 else ""
    return (
        f"{sign}{abs(f.year):04d}-{f.month:02d}-{f.day:02d}"
        f"T{f.hour:02d}:{f.minute:02d}:{f.second:02d}Z"
    )


def _scheduled_at(value: Any) -> str:
    if _is_string(value):
        return _text(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return rfc3339_utc(as_int(value))
    return ""


def _validate(options: Any) -> Email | str:
    """The email, or the (untracked) validation message, checked in upstream's order."""
    to = _recipients(field(options, "to"))
    if isinstance(to, str):
        return to
    from_address = field_text(options, "from")
    if not from_address:
        return "from is required"
    if not to:
        return "to is required"
    subject = field_text(options, "subject")
    if not subject:
        return "subject is required"
    text, html = field_text(options, "text"), field_text(options, "html")
    if not text and not html:
        return "either text or html content is required"
    optional: dict[str, Any] = {
        "text": text,
        "html": html,
        "reply_to": field_text(options, "reply_to"),
        "cc": _list(field(options, "cc")),
        "bcc": _list(field(options, "bcc")),
        "headers": _headers(field(options, "headers")),
        "tags": _tags(field(options, "tags")),
        "scheduled_at": _scheduled_at(field(options, "scheduled_at")),
    }
    document: dict[str, Any] = {"from": from_address, "to": to, "subject": subject}
    document.update((key, value) for key, value in optional.items() if value)
    return Email(from_address, to, subject, text, html, document)


def endpoint(env: dict[str, str]) -> str:
    """`<base>/emails` with base = env RESEND_BASE_URL when set and parseable."""
    base = env.get(BASE_URL_VAR, "")
    if base:
        try:
            parse_url(base.encode("utf-8", "surrogateescape"))
        except URLError:
            base = ""
    return urllib.parse.urljoin(base or DEFAULT_BASE_URL, "emails")


def _error_text(status: int, body: str) -> str:
    """Resend's error as the Go client words it: `[ERROR]: <message>`."""
    try:
        message = gojson.loads(body).get("message")
    except (gojson.DecodeError, AttributeError):
        message = None
    if isinstance(message, str):
        return f"[ERROR]: {message}"
    return f"[ERROR]: unexpected response (HTTP {status}): {body[:200]}"


def _send(host: HostContext, email: Email) -> tuple[str, str | None]:
    """POST the email; (email id, response body) or raise SendError with Lua's `err`."""
    key = host.env.get(KEY_VAR, "")
    if not key:
        raise SendError(f"{KEY_VAR} not set in function environment")
    body = json.dumps(email.document, ensure_ascii=False, separators=_COMPACT).encode("utf-8")
    headers = [
        (b"Authorization", f"Bearer {key}".encode()),
        (b"Content-Type", b"application/json"),
    ]
    try:
        response = outbound.fetch(host, "POST", endpoint(host.env), headers=headers, body=body)
    except outbound.BodyError as exc:
        raise SendError(f"failed to read response body: {exc}") from None
    except outbound.OutboundError as exc:
        raise SendError(str(exc)) from None
    text = response.body.decode("utf-8", "replace")
    if not 200 <= response.status < 300:
        raise SendError(_error_text(response.status, text), text)
    try:
        document = gojson.loads(text)
    except gojson.DecodeError as exc:
        raise SendError(f"failed to parse response: {exc}", text) from None
    email_id = document.get("id") if isinstance(document, dict) else None
    return (email_id if isinstance(email_id, str) else ""), text


def _track(
    host: HostContext,
    email: Email,
    *,
    email_id: str | None,
    response_text: str | None,
    error: str | None,
    clock: CallClock,
) -> None:
    """Append the call's EmailRequestRow (a tracking failure is logged, never raised)."""
    record(
        host,
        "email.send",
        lambda: host.email_requests.append(
            EmailRequestRow(
                from_address=email.from_address,
                to_addresses=list(email.to),
                subject=email.subject,
                has_text=bool(email.text),
                has_html=bool(email.html),
                request_json=mask_json_text(gojson.dumps(email.document)),
                email_id=email_id,
                **outcome_fields(clock, error, response_text),
            )
        ),
    )


def send(bridge: Bridge, options: Any) -> Any:
    """`email.send(options)`: `{id = ...}`, or `bridge.fail(<message>)`."""
    email = _validate(options)
    if isinstance(email, str):
        return bridge.fail(email)
    clock = CallClock()
    email_id: str | None = None
    response_text: str | None = None
    error: str | None = None
    try:
        email_id, response_text = _send(bridge.host, email)
    except SendError as exc:
        error, response_text = str(exc), exc.response_text
    _track(
        bridge.host,
        email,
        email_id=email_id or None,
        response_text=response_text,
        error=error,
        clock=clock,
    )
    if error is not None:
        return bridge.fail(error)
    return bridge.table({b"id": python_to_lua(email_id or "")})


MODULE = ModuleSpec(
    name="email",
    functions=(LuaFunction("send", send, ("table",), returns="pair"),),
)
