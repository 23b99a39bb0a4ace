"""ai.chat against fake OpenAI/Anthropic servers on loopback (lua-runtime §6.13, §10;
statements 86-99 and the AI half of 130)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from lunard.messages import AIRequestRow, JobLimits
from tests.fakes import FakeServer, Reply, anthropic_reply, closed_port_url, openai_reply
from tests.worker.modules.conftest import DEFAULT_LIMITS, Execution, World

OPENAI_ENV = {"OPENAI_API_KEY": "test-api-key"}
ANTHROPIC_ENV = {"ANTHROPIC_API_KEY": "test-anthropic-key"}


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer({"/chat/completions": openai_reply(), "/v1/messages": anthropic_reply()})
    yield fake
    fake.close()


def openai_call(url: str, extra: str = "") -> str:
    return (
        'return ai.chat{provider = "openai", model = "gpt-4o-mini", '
        f'messages = {{{{role = "user", content = "Hello!"}}}}, endpoint = "{url}"{extra}}}'
    )


def anthropic_call(url: str, extra: str = "") -> str:
    return (
        'return ai.chat{provider = "anthropic", model = "claude-3-haiku-20240307", '
        'messages = {{role = "system", content = "You are helpful"}, '
        f'{{role = "user", content = "Hi"}}}}, endpoint = "{url}"{extra}}}'
    )


def only_row(execution: Execution) -> AIRequestRow:
    rows = execution.host.ai_requests
    assert len(rows) == 1
    return rows[0]


def test_s86_openai_chat(world: World, server: FakeServer) -> None:
    lua = world.execution(env=OPENAI_ENV)
    response, err = lua.run(openai_call(server.url))
    assert err is None
    assert response == {
        "content": "Hello! How can I help you today?",
        "model": "gpt-4o-mini",
        "usage": {"input_tokens": 10, "output_tokens": 8},
    }
    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/chat/completions")
    assert request.headers["authorization"] == "Bearer test-api-key"
    assert request.headers["content-type"] == "application/json"
    # Keys in upstream's order; max_tokens defaults to 1024; no temperature.
    assert list(request.json()) == ["model", "messages", "max_tokens"]
    assert request.json() == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Hello!"}],
        "max_tokens": 1024,
    }


def test_s87_anthropic_chat(world: World, server: FakeServer) -> None:
    lua = world.execution(env=ANTHROPIC_ENV)
    response, err = lua.run(anthropic_call(server.url))
    assert err is None
    assert response["content"] == "Hello! I'm Claude, happy to help!"
    assert response["model"] == "claude-3-haiku-20240307"
    assert response["usage"] == {"input_tokens": 12, "output_tokens": 9}
    [request] = server.requests
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == "test-anthropic-key"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers
    assert list(request.json()) == ["model", "max_tokens", "system", "messages"]
    assert request.json() == {
        "model": "claude-3-haiku-20240307",
        "max_tokens": 1024,
        "system": "You are helpful",
        "messages": [{"role": "user", "content": "Hi"}],
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ('model = "m", messages = {{role = "user", content = "x"}}', "provider is required"),
        ('provider = "openai", messages = {{role = "user", content = "x"}}', "model is required"),
        ('provider = "openai", model = "m"', "messages is required and must be a table"),
        ('provider = "openai", model = "m", messages = "hi"', "messages is required"),
        ('provider = "openai", model = "m", messages = {}', "messages cannot be empty"),
    ],
    ids=["s88_provider", "s89_model", "s90_messages", "s90_messages_string", "s91_empty"],
)
def test_s88_to_s91_validation(
    world: World, server: FakeServer, options: str, message: str
) -> None:
    lua = world.execution(env=OPENAI_ENV)
    response, err = lua.run(f'return ai.chat{{{options}, endpoint = "{server.url}"}}')
    assert response is None
    assert err.startswith(message)
    assert server.requests == []
    assert lua.host.ai_requests == []


def test_validation_messages_are_exact_and_in_order(lua: Execution) -> None:
    assert lua.run("return ai.chat{}") == (None, "provider is required (openai or anthropic)")
    # provider is checked before model, model before messages.
    assert lua.run('return ai.chat{provider = "x"}') == (None, "model is required")
    assert lua.run('return ai.chat{provider = true, model = "m"}') == (
        None,
        "provider is required (openai or anthropic)",
    )


def test_unusable_messages_are_skipped(world: World, server: FakeServer) -> None:
    lua = world.execution(env=OPENAI_ENV)
    assert lua.run(
        'return ai.chat{provider = "openai", model = "m", '
        'messages = {"text", {role = "user"}, {content = "x"}, {role = "", content = "y"}}}'
    ) == (None, "messages cannot be empty")
    _, err = lua.run(
        'return ai.chat{provider = "openai", model = "m", endpoint = "' + server.url + '", '
        'messages = {"skip", {role = "user", content = 42}, {role = "user"}}}'
    )
    assert err is None
    assert server.requests[-1].json()["messages"] == [{"role": "user", "content": "42"}]


def test_s92_missing_key_makes_no_request(world: World, server: FakeServer) -> None:
    lua = world.execution(env={})
    response, err = lua.run(openai_call(server.url))
    assert response is None
    assert err == "OPENAI_API_KEY not set in function environment"
    assert server.requests == []
    row = only_row(lua)
    assert (row.status, row.error_message, row.endpoint) == ("error", err, "")
    lua = world.execution(env={"ANTHROPIC_API_KEY": ""})
    assert lua.run(anthropic_call(server.url)) == (
        None,
        "ANTHROPIC_API_KEY not set in function environment",
    )


def test_s93_unsupported_provider(world: World, server: FakeServer) -> None:
    lua = world.execution(env=OPENAI_ENV)
    response, err = lua.run(
        'return ai.chat{provider = "unsupported", model = "m", '
        f'messages = {{{{role = "user", content = "x"}}}}, endpoint = "{server.url}"}}'
    )
    assert response is None
    assert err == "unsupported provider: unsupported (use openai or anthropic)"
    assert server.requests == []
    row = only_row(lua)
    assert (row.provider, row.status, row.error_message) == ("unsupported", "error", err)
    # Case-sensitive.
    assert (
        "unsupported provider: OpenAI"
        in lua.run(openai_call(server.url).replace("openai", "OpenAI"))[1]
    )


def test_s94_openai_error_body(world: World, server: FakeServer) -> None:
    server.route("/chat/completions", Reply(429, {"error": {"message": "Rate limit exceeded"}}))
    lua = world.execution(env=OPENAI_ENV)
    assert lua.run(openai_call(server.url)) == (None, "OpenAI API error: Rate limit exceeded")


def test_s95_anthropic_error_body(world: World, server: FakeServer) -> None:
    server.route(
        "/v1/messages",
        Reply(401, {"error": {"type": "invalid_request_error", "message": "Invalid API key"}}),
    )
    lua = world.execution(env=ANTHROPIC_ENV)
    assert lua.run(anthropic_call(server.url)) == (None, "anthropic API error: Invalid API key")


def test_s96_temperature_and_max_tokens(world: World, server: FakeServer) -> None:
    lua = world.execution(env=OPENAI_ENV)
    lua.run(openai_call(server.url, ", temperature = 0.8, max_tokens = 2000"))
    body = server.requests[-1].json()
    assert (body["temperature"], body["max_tokens"]) == (0.8, 2000)
    assert list(body) == ["model", "messages", "max_tokens", "temperature"]
    lua.run(openai_call(server.url, ', temperature = 0, max_tokens = "300.9"'))
    body = server.requests[-1].json()
    assert "temperature" not in body
    assert body["max_tokens"] == 300
    lua.run(openai_call(server.url, ', max_tokens = "many", temperature = "1"'))
    assert server.requests[-1].body.endswith(b'"max_tokens":1024,"temperature":1}')
    lua = world.execution(env=ANTHROPIC_ENV)
    lua.run(anthropic_call(server.url, ", temperature = 0.5"))
    body = server.requests[-1].json()
    assert list(body) == ["model", "max_tokens", "system", "messages", "temperature"]
    assert body["temperature"] == 0.5


def test_anthropic_last_system_message_wins_and_no_messages_is_null(
    world: World, server: FakeServer
) -> None:
    lua = world.execution(env=ANTHROPIC_ENV)
    lua.run(
        'return ai.chat{provider = "anthropic", model = "c", endpoint = "' + server.url + '", '
        'messages = {{role = "system", content = "one"}, {role = "system", content = "two"}}}'
    )
    assert server.requests[-1].json() == {
        "model": "c",
        "max_tokens": 1024,
        "system": "two",
        "messages": None,
    }


def test_s97_anthropic_text_blocks_are_concatenated(world: World, server: FakeServer) -> None:
    server.route(
        "/v1/messages",
        Reply(
            200,
            {
                "model": "claude",
                "content": [
                    {"type": "text", "text": "First part. "},
                    {"type": "tool_use", "id": "t1", "name": "x", "input": {}},
                    {"type": "text", "text": "Second part."},
                ],
            },
        ),
    )
    lua = world.execution(env=ANTHROPIC_ENV)
    response, err = lua.run(anthropic_call(server.url))
    assert err is None
    assert response["content"] == "First part. Second part."
    assert response["usage"] == {"input_tokens": 0, "output_tokens": 0}


def test_s98_endpoint_option_beats_env(world: World, server: FakeServer) -> None:
    other = FakeServer({"/chat/completions": openai_reply("from env")})
    try:
        env = {**OPENAI_ENV, "OPENAI_ENDPOINT": other.url}
        lua = world.execution(env=env)
        assert lua.run(openai_call(server.url))[0]["content"] == "Hello! How can I help you today?"
        assert [r.path for r in server.requests] == ["/chat/completions"]
        assert other.requests == []
        without_option = (
            'return ai.chat{provider = "openai", model = "m", '
            'messages = {{role = "user", content = "x"}}}'
        )
        assert lua.run(without_option)[0]["content"] == "from env"
        assert [r.path for r in other.requests] == ["/chat/completions"]
        assert lua.host.ai_requests[-1].endpoint == other.url + "/chat/completions"
    finally:
        other.close()


def test_s99_calls_are_tracked(world: World, server: FakeServer) -> None:
    lua = world.execution(env=OPENAI_ENV)
    lua.run(openai_call(server.url))
    server.route("/chat/completions", Reply(500, {"error": {"message": "Overloaded"}}))
    lua.run(openai_call(server.url))
    lua.run('return ai.chat{provider = "openai", messages = {{role = "user", content = "x"}}}')
    success, failure = lua.host.ai_requests
    assert success.provider == "openai"
    assert success.model == "gpt-4o-mini"
    assert success.endpoint == server.url + "/chat/completions"
    assert success.status == "success"
    assert success.error_message is None
    assert (success.input_tokens, success.output_tokens) == (10, 8)
    assert json.loads(success.request_json) == {
        "max_tokens": 1024,
        "messages": [{"content": "Hello!", "role": "user"}],
        "model": "gpt-4o-mini",
        "provider": "openai",
    }
    assert json.loads(success.response_json or "")["usage"]["prompt_tokens"] == 10
    assert success.duration_ms >= 0
    assert success.created_at > 1_700_000_000
    assert len(success.id) == 20
    assert failure.status == "error"
    assert failure.error_message == "OpenAI API error: Overloaded"
    assert (failure.input_tokens, failure.output_tokens) == (None, None)
    assert failure.response_json == '{"error":{"message":"Overloaded"}}'
    assert success.id != failure.id


def test_s130_stored_response_json_is_masked(world: World, server: FakeServer) -> None:
    server.route("/chat/completions", Reply(200, {"api_key": "secret123", "content": "Hello"}))
    lua = world.execution(env=OPENAI_ENV)
    assert lua.run(openai_call(server.url)) == (None, "no response from OpenAI")
    row = only_row(lua)
    assert row.response_json == '{"api_key":"[REDACTED]","content":"Hello"}'
    assert "test-api-key" not in row.request_json


def test_empty_answers(world: World, server: FakeServer) -> None:
    server.route("/chat/completions", Reply(200, {"model": "m", "choices": []}))
    server.route("/v1/messages", Reply(200, {"model": "m", "content": []}))
    assert world.execution(env=OPENAI_ENV).run(openai_call(server.url)) == (
        None,
        "no response from OpenAI",
    )
    assert world.execution(env=ANTHROPIC_ENV).run(anthropic_call(server.url)) == (
        None,
        "no response from Anthropic",
    )


def test_non_json_answer(world: World, server: FakeServer) -> None:
    server.route("/chat/completions", Reply(502, "<html>Bad Gateway</html>"))
    lua = world.execution(env=OPENAI_ENV)
    response, err = lua.run(openai_call(server.url))
    assert response is None
    assert err == "failed to parse response: invalid character '<' looking for beginning of value"
    row = only_row(lua)
    assert (row.status, row.response_json) == ("error", "<html>Bad Gateway</html>")


def test_unreachable_provider(world: World) -> None:
    lua = world.execution(env=OPENAI_ENV)
    url = closed_port_url()
    response, err = lua.run(openai_call(url))
    assert response is None
    assert err.startswith(
        f'HTTP request failed: HTTP request failed: Post "{url}/chat/completions": '
    )
    row = only_row(lua)
    assert (row.status, row.response_json, row.error_message) == ("error", None, err)


def test_slow_provider_fails_at_the_deadline(world: World, server: FakeServer) -> None:
    server.route("/chat/completions", Reply(200, {"choices": []}, delay=60))
    lua = world.execution(env=OPENAI_ENV, timeout=0.5)
    response, err = lua.run(openai_call(server.url))
    assert response is None
    assert err.startswith("HTTP request failed: HTTP request failed: ")
    assert "execution deadline exceeded" in err
    assert only_row(lua).status == "error"


def test_oversize_answer_is_refused(world: World, server: FakeServer) -> None:
    limits = JobLimits(
        max_memory_bytes=DEFAULT_LIMITS.max_memory_bytes,
        max_log_entries=DEFAULT_LIMITS.max_log_entries,
        max_log_bytes=DEFAULT_LIMITS.max_log_bytes,
        http_max_response_bytes=100,
    )
    server.route("/chat/completions", Reply(200, {"choices": [], "pad": "x" * 500}))
    lua = world.execution(env=OPENAI_ENV, limits=limits)
    response, err = lua.run(openai_call(server.url))
    assert response is None
    assert err == (
        "HTTP request failed: failed to read response body: "
        "response body exceeds the limit of 100 bytes (http_max_response_bytes)"
    )


def test_options_must_be_a_table(lua: Execution) -> None:
    assert "bad argument #1 to 'chat' (table expected, got string)" in lua.error_of('ai.chat("x")')
    assert lua.host.ai_requests == []


def test_success_returns_nil_as_second_value(world: World, server: FakeServer) -> None:
    lua = world.execution(env=OPENAI_ENV)
    code = openai_call(server.url).replace("return ai.chat", "local r, e = ai.chat")
    assert lua.run(code + " return select('#', ai.chat{}), type(r), e") == (2, "table", None)
