"""End to end: a function on a real daemon calls fake OpenAI and Resend servers on loopback,
and the tracked calls are listed under the execution (http-api §3.5, §3.6, §5.25, §5.26;
lua-runtime §10)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes import FakeServer, Reply, openai_reply, resend_reply

CODE = """
function handler(ctx, event)
  local chat, chat_err = ai.chat{
    provider = "openai", model = "gpt-4o-mini",
    messages = {{role = "user", content = "Hello!"}},
  }
  local sent, send_err = email.send{
    from = "sender@example.com", to = {"a@example.com", "b@example.com"},
    subject = "Report", text = "Body", headers = {api_key = "mysecret"},
  }
  local failed, fail_err = email.send{
    from = "sender@example.com", to = "c@example.com", subject = "Again", html = "<p>x</p>",
  }
  local page, http_err = http.get(env.get("OPENAI_ENDPOINT") .. "/page")
  return {
    statusCode = 200,
    body = json.encode{
      content = chat and chat.content, chat_err = chat_err,
      id = sent and sent.id, send_err = send_err, fail_err = fail_err,
      page = page and page.body, http_err = http_err,
    },
  }
end
"""


@pytest.fixture
def providers() -> Iterator[FakeServer]:
    answers = iter(
        [resend_reply("email_123456"), Reply(422, {"statusCode": 422, "message": "Bad `to`"})]
    )
    fake = FakeServer(
        {
            "/chat/completions": openai_reply(),
            "/emails": lambda request: next(answers),
            "/page": Reply(200, "plain page"),
        }
    )
    yield fake
    fake.close()


def _ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def test_tracked_calls_are_listed_under_the_execution(
    api: httpx.Client, providers: FakeServer
) -> None:
    created = _ok(
        api.post("/api/functions", json={"name": f"out-{uuid.uuid4().hex[:8]}", "code": CODE})
    )
    env = {
        "OPENAI_API_KEY": "sk-test-key",
        "OPENAI_ENDPOINT": providers.url,
        "RESEND_API_KEY": "re-test-key",
        "RESEND_BASE_URL": providers.url,
    }
    _ok(api.put(f"/api/functions/{created['id']}/env", json={"env_vars": env}))

    response = api.post(f"/fn/{created['id']}")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "content": "Hello! How can I help you today?",
        "id": "email_123456",
        "fail_err": "[ERROR]: Bad `to`",
        "page": "plain page",
    }
    execution_id = response.headers["X-Execution-Id"]
    assert [r.path for r in providers.requests] == [
        "/chat/completions",
        "/emails",
        "/emails",
        "/page",
    ]

    ai = _ok(api.get(f"/api/executions/{execution_id}/ai-requests"))
    [call] = ai["ai_requests"]
    assert ai["pagination"]["total"] == 1
    assert call["execution_id"] == execution_id
    assert (call["provider"], call["model"], call["status"]) == ("openai", "gpt-4o-mini", "success")
    assert call["endpoint"] == providers.url + "/chat/completions"
    assert (call["input_tokens"], call["output_tokens"]) == (10, 8)
    assert "error_message" not in call
    assert '"messages":[{"content":"Hello!","role":"user"}]' in call["request_json"]
    assert '"prompt_tokens":10' in call["response_json"]
    assert isinstance(call["duration_ms"], int)
    assert isinstance(call["created_at"], int)
    assert "sk-test-key" not in str(ai)

    mail = _ok(api.get(f"/api/executions/{execution_id}/email-requests"))
    sent, failed = mail["email_requests"]
    assert mail["pagination"]["total"] == 2
    assert sent["execution_id"] == execution_id
    assert sent["from"] == "sender@example.com"
    assert sent["to"] == ["a@example.com", "b@example.com"]
    assert (sent["subject"], sent["has_text"], sent["has_html"]) == ("Report", True, False)
    assert (sent["status"], sent["email_id"]) == ("success", "email_123456")
    assert sent["response_json"] == '{"id":"email_123456"}'
    assert '"headers":{"api_key":"[REDACTED]"}' in sent["request_json"]
    assert "error_message" not in sent
    assert (failed["status"], failed["error_message"]) == ("error", "[ERROR]: Bad `to`")
    assert (failed["to"], failed["has_html"]) == (["c@example.com"], True)
    assert "email_id" not in failed
    assert "re-test-key" not in str(mail)
