"""email.send against a fake Resend server on loopback (lua-runtime §6.14, §10;
statements 100-107 and the email half of 130)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from lunard.messages import EmailRequestRow
from lunard.worker.modules.email import endpoint, rfc3339_utc
from tests.fakes import FakeServer, Reply, closed_port_url, resend_reply
from tests.worker.modules.conftest import Execution, World

VALID = 'from = "sender@example.com", to = "user@example.com", subject = "Test Subject"'


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer({"/emails": resend_reply()})
    yield fake
    fake.close()


@pytest.fixture
def mail(world: World, server: FakeServer) -> Execution:
    """An execution whose env points email at the fake Resend."""
    return world.execution(env={"RESEND_API_KEY": "test-resend-key", "RESEND_BASE_URL": server.url})


def send(execution: Execution, fields: str) -> tuple[object, object]:
    result = execution.run(f"return email.send{{{fields}}}")
    assert isinstance(result, tuple)
    return result


def only_row(execution: Execution) -> EmailRequestRow:
    rows = execution.host.email_requests
    assert len(rows) == 1
    return rows[0]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ('to = "a@x.io", subject = "s", text = "t"', "from is required"),
        ('from = "f@x.io", subject = "s", text = "t"', "to is required"),
        ('from = "f@x.io", to = "a@x.io", text = "t"', "subject is required"),
        (VALID, "either text or html content is required"),
        (VALID + ', text = "", html = ""', "either text or html content is required"),
        (VALID.replace('"user@example.com"', "{}") + ', text = "t"', "to cannot be empty"),
        (VALID.replace('"user@example.com"', '{"", false}') + ', text = "t"', "to cannot be empty"),
        (
            VALID.replace('"user@example.com"', "12345") + ', text = "t"',
            "to must be a string or table of strings",
        ),
        (
            VALID.replace('"user@example.com"', "true") + ', text = "t"',
            "to must be a string or table of strings",
        ),
    ],
    ids=[
        "s100_from",
        "s101_to",
        "s102_subject",
        "s103_no_content",
        "s103_empty_content",
        "s105_to_empty_table",
        "s105_to_only_empty_strings",
        "s105_to_number",
        "s105_to_boolean",
    ],
)
def test_s100_to_s105_validation(
    mail: Execution, server: FakeServer, fields: str, message: str
) -> None:
    assert send(mail, fields) == (None, message)
    assert server.requests == []
    assert mail.host.email_requests == []


def test_to_is_checked_first(mail: Execution) -> None:
    assert send(mail, "") == (None, "to is required")
    assert send(mail, "to = 1") == (None, "to must be a string or table of strings")
    assert send(mail, 'to = "a@x.io"') == (None, "from is required")


def test_s104_missing_key_makes_no_request(world: World, server: FakeServer) -> None:
    lua = world.execution(env={"RESEND_BASE_URL": server.url})
    result = send(lua, VALID + ', text = "Hello"')
    assert result == (None, "RESEND_API_KEY not set in function environment")
    assert server.requests == []
    row = only_row(lua)
    assert (row.status, row.error_message, row.email_id) == ("error", result[1], None)


def test_s106_success(mail: Execution, server: FakeServer) -> None:
    response, err = send(mail, VALID + ', text = "Hello"')
    assert err is None
    assert response == {"id": "email_123456"}
    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/emails")
    assert request.headers["authorization"] == "Bearer test-resend-key"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "from": "sender@example.com",
        "to": ["user@example.com"],
        "subject": "Test Subject",
        "text": "Hello",
    }


def test_s107_scheduled_at(mail: Execution, server: FakeServer) -> None:
    send(mail, VALID + ', text = "t", scheduled_at = 1735732800')
    assert server.requests[-1].json()["scheduled_at"] == "2025-01-01T12:00:00Z"
    send(mail, VALID + ', text = "t", scheduled_at = "2025-01-01T12:00:00Z"')
    assert server.requests[-1].json()["scheduled_at"] == "2025-01-01T12:00:00Z"
    send(mail, VALID + ', text = "t", scheduled_at = "in 1 hour"')
    assert server.requests[-1].json()["scheduled_at"] == "in 1 hour"
    send(mail, VALID + ', text = "t", scheduled_at = 1735732800.9')
    assert server.requests[-1].json()["scheduled_at"] == "2025-01-01T12:00:00Z"
    send(mail, VALID + ', text = "t", scheduled_at = true')
    assert "scheduled_at" not in server.requests[-1].json()


def test_rfc3339_utc() -> None:
    assert rfc3339_utc(0) == "1970-01-01T00:00:00Z"
    assert rfc3339_utc(-1) == "1969-12-31T23:59:59Z"
    assert rfc3339_utc(951782400) == "2000-02-29T00:00:00Z"
    assert rfc3339_utc(253402300800) == "10000-01-01T00:00:00Z"


def test_every_field_is_sent(mail: Execution, server: FakeServer) -> None:
    _, err = send(
        mail,
        'from = "Me <me@x.io>", to = {"a@x.io", "", 42}, subject = "S", text = "T", '
        'html = "<p>H</p>", reply_to = "r@x.io", cc = "c@x.io", bcc = {"b1@x.io", "b2@x.io"}, '
        'headers = {["X-Entity-Ref-ID"] = "123", [7] = 8}, '
        'tags = {{name = "kind", value = "welcome"}, {name = "", value = "x"}, "skip", '
        '{name = "n"}}, scheduled_at = 0',
    )
    assert err is None
    body = server.requests[-1].json()
    assert list(body) == [
        "from",
        "to",
        "subject",
        "text",
        "html",
        "reply_to",
        "cc",
        "bcc",
        "headers",
        "tags",
        "scheduled_at",
    ]
    assert body == {
        "from": "Me <me@x.io>",
        "to": ["a@x.io", "42"],
        "subject": "S",
        "text": "T",
        "html": "<p>H</p>",
        "reply_to": "r@x.io",
        "cc": ["c@x.io"],
        "bcc": ["b1@x.io", "b2@x.io"],
        "headers": {"X-Entity-Ref-ID": "123", "7": "8"},
        "tags": [{"name": "kind", "value": "welcome"}, {"name": "n", "value": ""}],
        "scheduled_at": "1970-01-01T00:00:00Z",
    }


def test_ignored_types_and_empty_to_string(mail: Execution, server: FakeServer) -> None:
    _, err = send(mail, 'from = "f@x.io", to = "", subject = "s", html = "h", cc = 5, tags = 1')
    assert err is None
    # `to = ""` passes validation and is left to Resend; odd cc/tags types are ignored.
    assert server.requests[-1].json() == {
        "from": "f@x.io",
        "to": [""],
        "subject": "s",
        "html": "h",
    }


def test_calls_are_tracked(mail: Execution, server: FakeServer) -> None:
    send(mail, VALID + ', html = "<b>hi</b>", cc = "c@x.io"')
    server.route(
        "/emails",
        Reply(
            422,
            {"statusCode": 422, "message": "Invalid `to` field.", "name": "validation_error"},
        ),
    )
    result = send(mail, VALID + ', text = "t"')
    assert result == (None, "[ERROR]: Invalid `to` field.")
    success, failure = mail.host.email_requests
    assert success.from_address == "sender@example.com"
    assert success.to_addresses == ["user@example.com"]
    assert success.subject == "Test Subject"
    assert (success.has_text, success.has_html) == (False, True)
    assert success.status == "success"
    assert success.email_id == "email_123456"
    assert success.error_message is None
    assert success.response_json == '{"id":"email_123456"}'
    # Keys sorted (Go), from/to/subject always, the rest only when non-empty.
    assert success.request_json == (
        '{"cc":["c@x.io"],"from":"sender@example.com","html":"\\u003cb\\u003ehi\\u003c/b\\u003e",'
        '"subject":"Test Subject","to":["user@example.com"]}'
    )
    assert success.duration_ms >= 0
    assert success.created_at > 1_700_000_000
    assert failure.status == "error"
    assert failure.error_message == "[ERROR]: Invalid `to` field."
    assert failure.email_id is None
    assert failure.has_text is True
    assert json.loads(failure.response_json or "")["name"] == "validation_error"


def test_s130_stored_json_is_masked(mail: Execution, server: FakeServer) -> None:
    server.route("/emails", Reply(200, {"api_key": "secret123", "id": "e_1"}))
    response, err = send(mail, VALID + ', text = "t", headers = {api_key = "mysecret"}')
    assert (response, err) == ({"id": "e_1"}, None)
    row = only_row(mail)
    assert '"headers":{"api_key":"[REDACTED]"}' in row.request_json
    assert "mysecret" not in row.request_json
    assert "test-resend-key" not in row.request_json
    assert row.response_json == '{"api_key":"[REDACTED]","id":"e_1"}'
    # What Resend received is the real value: only stored copies are masked.
    assert server.requests[-1].json()["headers"] == {"api_key": "mysecret"}


def test_base_url_resolution() -> None:
    assert endpoint({}) == "https://api.resend.com/emails"
    assert endpoint({"RESEND_BASE_URL": "http://127.0.0.1:9"}) == "http://127.0.0.1:9/emails"
    assert endpoint({"RESEND_BASE_URL": "http://h/api/"}) == "http://h/api/emails"
    assert endpoint({"RESEND_BASE_URL": "http://h/api"}) == "http://h/emails"
    assert endpoint({"RESEND_BASE_URL": "http://[::1"}) == "https://api.resend.com/emails"


def test_base_url_with_a_path(world: World, server: FakeServer) -> None:
    server.route("/api/emails", resend_reply("e_api"))
    lua = world.execution(
        env={"RESEND_API_KEY": "k", "RESEND_BASE_URL": server.url + "/api/"},
    )
    assert send(lua, VALID + ', text = "t"') == ({"id": "e_api"}, None)


def test_non_json_answers(mail: Execution, server: FakeServer) -> None:
    server.route("/emails", Reply(502, "<html>Bad Gateway</html>"))
    assert send(mail, VALID + ', text = "t"') == (
        None,
        "[ERROR]: unexpected response (HTTP 502): <html>Bad Gateway</html>",
    )
    server.route("/emails", Reply(200, "queued"))
    response, err = send(mail, VALID + ', text = "t"')
    assert response is None
    assert err == "failed to parse response: invalid character 'q' looking for beginning of value"
    assert [row.response_json for row in mail.host.email_requests] == [
        "<html>Bad Gateway</html>",
        "queued",
    ]


def test_unreachable_resend(world: World) -> None:
    url = closed_port_url()
    lua = world.execution(env={"RESEND_API_KEY": "k", "RESEND_BASE_URL": url})
    response, err = send(lua, VALID + ', text = "t"')
    assert response is None
    assert isinstance(err, str)
    assert err.startswith(f'Post "{url}/emails": ')
    row = only_row(lua)
    assert (row.status, row.response_json, row.error_message) == ("error", None, err)


def test_slow_resend_fails_at_the_deadline(world: World, server: FakeServer) -> None:
    server.route("/emails", Reply(200, {"id": "late"}, delay=60))
    lua = world.execution(env={"RESEND_API_KEY": "k", "RESEND_BASE_URL": server.url}, timeout=0.5)
    response, err = send(lua, VALID + ', text = "t"')
    assert response is None
    assert isinstance(err, str)
    assert "execution deadline exceeded" in err
    assert only_row(lua).status == "error"


def test_options_must_be_a_table(lua: Execution) -> None:
    assert "bad argument #1 to 'send' (table expected, got nil)" in lua.error_of("email.send()")
