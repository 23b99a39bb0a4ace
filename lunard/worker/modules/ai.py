"""`ai` — chat completions through OpenAI or Anthropic (lua-runtime §6.13, §10).

`ai.chat(options)` → `{content, model, usage = {input_tokens, output_tokens}}, nil` or
`nil, err`. Option validation failures (provider, model, messages) return at once and are
not tracked. Every later outcome — unsupported provider, missing API key, transport or
provider error, success — appends one `AIRequestRow` to `host.ai_requests`.

Tracking rows travel back with the JobResult and the sink writes them with the execution.
A worker killed on timeout returns nothing, so no half-written record can exist: the rows of
an execution are stored all together, or (killed) not at all.

The stored `request_json` is the call as Lua made it — `provider`, `model`, `messages`,
`max_tokens` and `temperature` (when sent) — masked like any stored JSON (§9.3); the API key
never appears in it (it travels in a header). `response_json` is the provider's raw body,
masked; null when no body came back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lunard import gojson
from lunard.masking import mask_json_text
from lunard.wire import AIRequestRow
from lunard.worker.host import HostContext
from lunard.worker.modules import outbound
from lunard.worker.modules.bridge import (
    Bridge,
    LuaFunction,
    ModuleSpec,
    as_int,
    field_string,
    is_table,
)
from lunard.worker.modules.json import python_to_lua
from lunard.worker.modules.options import field, field_number, field_text, finite
from lunard.worker.modules.tracking import CallClock, outcome_fields, record

_COMPACT = (",", ":")  # request bodies are compact, like Go's json.Marshal

DEFAULT_MAX_TOKENS = 1024
ANTHROPIC_VERSION = "2023-06-01"


@dataclass(frozen=True)
class Provider:
    """How one provider is reached: key and endpoint variables, default base, path."""

    name: str
    key_var: str
    endpoint_var: str
    default_endpoint: str
    path: str
    error_label: str


PROVIDERS = {
    "openai": Provider(
        "openai",
        "OPENAI_API_KEY",
        "OPENAI_ENDPOINT",
        "https://api.openai.com/v1",
        "/chat/completions",
        "OpenAI",
    ),
    "anthropic": Provider(
        "anthropic",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_ENDPOINT",
        "https://api.anthropic.com",
        "/v1/messages",
        "anthropic",
    ),
}


class ChatError(Exception):
    """A tracked failure; the text is what Lua receives as `err`."""


@dataclass(frozen=True)
class ChatRequest:
    """Validated options of one `ai.chat` call."""

    provider: str
    model: str
    messages: list[dict[str, str]]
    max_tokens: int
    temperature: float
    endpoint: str

    def tracked_json(self) -> str:
        """The call as stored in `request_json` (before masking)."""
        document: dict[str, Any] = {
            "provider": self.provider,
            "model": self.model,
            "messages": self.messages,
            "max_tokens": self.max_tokens,
        }
        if self.temperature > 0:
            document["temperature"] = _number(self.temperature)
        try:
            return gojson.dumps(document)
        except gojson.UnsupportedValue:
            document.pop("temperature")
            return gojson.dumps(document)


@dataclass
class ChatOutcome:
    """What the provider call produced, for Lua and for the tracking row."""

    endpoint: str = ""
    response_text: str | None = None
    content: str = ""
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0


def _number(value: float) -> int | float:
    """A Lua number for a JSON body: integral values without a fraction, like Go."""
    return int(value) if value.is_integer() else value


def _messages(table: Any) -> list[dict[str, str]]:
    """The usable entries of `messages` in array order (non-tables and blanks skipped)."""
    messages: list[dict[str, str]] = []
    for index in range(1, len(table) + 1):
        entry = table[index]
        if not is_table(entry):
            continue
        role, content = field_text(entry, "role"), field_text(entry, "content")
        if role and content:
            messages.append({"role": role, "content": content})
    return messages


def _validate(options: Any) -> ChatRequest | str:
    """The request, or the (untracked) validation message, checked in upstream's order."""
    provider = field_text(options, "provider")
    if not provider:
        return "provider is required (openai or anthropic)"
    model = field_text(options, "model")
    if not model:
        return "model is required"
    table = field(options, "messages")
    if not is_table(table):
        return "messages is required and must be a table"
    messages = _messages(table)
    if not messages:
        return "messages cannot be empty"
    max_tokens = as_int(field_number(field(options, "max_tokens"))) or DEFAULT_MAX_TOKENS
    temperature = field_number(field(options, "temperature"))
    endpoint = field_string(field(options, "endpoint")).decode("utf-8", "replace")
    return ChatRequest(provider, model, messages, max_tokens, temperature, endpoint)


def _body(provider: Provider, request: ChatRequest) -> bytes:
    """The provider's JSON body, keys in upstream's order."""
    body: dict[str, Any] = {"model": request.model}
    if provider.name == "openai":
        body["messages"] = request.messages
        if request.max_tokens != 0:
            body["max_tokens"] = request.max_tokens
    else:
        body["max_tokens"] = request.max_tokens
        systems = [m["content"] for m in request.messages if m["role"] == "system"]
        if systems:
            body["system"] = systems[-1]
        rest = [m for m in request.messages if m["role"] != "system"]
        body["messages"] = rest or None
    if request.temperature > 0:
        body["temperature"] = _number(request.temperature)
    try:
        return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=_COMPACT).encode(
            "utf-8"
        )
    except ValueError as exc:
        raise ChatError(f"failed to marshal request: json: unsupported value: {exc}") from None


def _headers(provider: Provider, key: str) -> list[tuple[bytes, bytes]]:
    headers = [(b"Content-Type", b"application/json")]
    if provider.name == "openai":
        headers.append((b"Authorization", f"Bearer {key}".encode()))
    else:
        headers.append((b"X-Api-Key", key.encode()))
        headers.append((b"Anthropic-Version", ANTHROPIC_VERSION.encode()))
    return headers


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _count(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and finite(float(value)) else 0


def _parse(provider: Provider, text: str, outcome: ChatOutcome) -> None:
    """Fill `outcome` from the provider's body, or raise ChatError (HTTP status unused)."""
    try:
        document = gojson.loads(text)
    except gojson.DecodeError as exc:
        raise ChatError(f"failed to parse response: {exc}") from None
    document = _object(document)
    error = document.get("error")
    if isinstance(error, dict):
        raise ChatError(f"{provider.error_label} API error: {_text(error.get('message'))}")
    outcome.model = _text(document.get("model"))
    usage = _object(document.get("usage"))
    if provider.name == "openai":
        choices = document.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ChatError("no response from OpenAI")
        message = _object(_object(choices[0]).get("message"))
        outcome.content = _text(message.get("content"))
        outcome.input_tokens = _count(usage.get("prompt_tokens"))
        outcome.output_tokens = _count(usage.get("completion_tokens"))
        return
    blocks = document.get("content")
    if not isinstance(blocks, list) or not blocks:
        raise ChatError("no response from Anthropic")
    outcome.content = "".join(
        _text(_object(block).get("text"))
        for block in blocks
        if _object(block).get("type") == "text"
    )
    outcome.input_tokens = _count(usage.get("input_tokens"))
    outcome.output_tokens = _count(usage.get("output_tokens"))


def _stage(exc: outbound.OutboundError) -> str:
    """The prefix the `http` module would give this failure."""
    if isinstance(exc, outbound.RequestError):
        return "failed to create request: "
    if isinstance(exc, outbound.BodyError):
        return "failed to read response body: "
    return "HTTP request failed: "


def _call(host: HostContext, request: ChatRequest, outcome: ChatOutcome) -> None:
    """Run the provider call, filling `outcome`; raise ChatError with Lua's `err` text."""
    provider = PROVIDERS.get(request.provider)
    if provider is None:
        raise ChatError(f"unsupported provider: {request.provider} (use openai or anthropic)")
    key = host.env.get(provider.key_var, "")
    if not key:
        raise ChatError(f"{provider.key_var} not set in function environment")
    base = request.endpoint or host.env.get(provider.endpoint_var, "") or provider.default_endpoint
    outcome.endpoint = base + provider.path
    body = _body(provider, request)
    try:
        response = outbound.fetch(
            host, "POST", outcome.endpoint, headers=_headers(provider, key), body=body
        )
    except outbound.OutboundError as exc:
        # Upstream wraps the HTTP client's error, itself prefixed like `http.*` errors, so
        # a transport failure reads `HTTP request failed: HTTP request failed: ...`.
        raise ChatError(f"HTTP request failed: {_stage(exc)}{exc}") from None
    outcome.response_text = response.body.decode("utf-8", "replace")
    _parse(provider, outcome.response_text, outcome)


def _track(
    host: HostContext,
    request: ChatRequest,
    outcome: ChatOutcome,
    error: str | None,
    clock: CallClock,
) -> None:
    """Append the call's AIRequestRow (a tracking failure is logged, never raised)."""
    failed = error is not None
    record(
        host,
        "ai.chat",
        lambda: host.ai_requests.append(
            AIRequestRow(
                provider=request.provider,
                model=request.model,
                endpoint=outcome.endpoint,
                request_json=mask_json_text(request.tracked_json()),
                input_tokens=None if failed else outcome.input_tokens,
                output_tokens=None if failed else outcome.output_tokens,
                **outcome_fields(clock, error, outcome.response_text),
            )
        ),
    )


def chat(bridge: Bridge, options: Any) -> Any:
    """`ai.chat(options)`: the response table, or `bridge.fail(<message>)`."""
    request = _validate(options)
    if isinstance(request, str):
        return bridge.fail(request)
    clock = CallClock()
    outcome = ChatOutcome()
    error: str | None = None
    try:
        _call(bridge.host, request, outcome)
    except ChatError as exc:
        error = str(exc)
    _track(bridge.host, request, outcome, error, clock)
    if error is not None:
        return bridge.fail(error)
    return bridge.table(
        {
            b"content": python_to_lua(outcome.content),
            b"model": python_to_lua(outcome.model),
            b"usage": {
                b"input_tokens": outcome.input_tokens,
                b"output_tokens": outcome.output_tokens,
            },
        }
    )


MODULE = ModuleSpec(
    name="ai",
    functions=(LuaFunction("chat", chat, ("table",), returns="pair"),),
)
