"""`lunar login` (device flow, platform §8.4), `logout` and `whoami`, end to end: the CLI runs
as a subprocess with a fake browser, the test approves or denies with the admin key."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.client.helpers import LUNAR, Lunar, clean_env
from tests.daemon import Daemon

APPROVAL = re.compile(r"/#!/device-approve/(\w+)$")


def wait_for_file(path: Path, proc: subprocess.Popen[str], deadline: float = 30) -> str:
    """The content of `path` once something was written there (the login must still run)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError(f"nothing written to {path}")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty config home for one test."""
    return tmp_path / "config"


def fake_browser(tmp_path: Path) -> tuple[Path, Path]:
    """A `$BROWSER` that records the URL it was asked to open; (script, record file)."""
    record = tmp_path / "opened.txt"
    script = tmp_path / "browser.sh"
    script.write_text(f'#!/bin/sh\nprintf "%s" "$1" > "{record}"\n')
    script.chmod(0o755)
    return script, record


def start_login(
    daemon: Daemon, home: Path, tmp_path: Path, *extra: str
) -> tuple[subprocess.Popen[str], Path]:
    """`lunar login` running against the daemon with the fake browser."""
    script, record = fake_browser(tmp_path)
    env = clean_env(home, LUNAR_SERVER=daemon.url, BROWSER=str(script))
    proc = subprocess.Popen(
        [str(LUNAR), "login", "--poll-interval", "0.05", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, record


def decide(daemon: Daemon, url: str, action: str) -> None:
    """What the dashboard's approval page does: POST /api/auth/device-approve."""
    match = APPROVAL.search(url)
    assert match, url
    response = httpx.post(
        f"{daemon.url}/api/auth/device-approve",
        json={"device_code": match.group(1), "action": action},
        headers={"Authorization": f"Bearer {daemon.api_key}"},
    )
    assert response.json() == {"success": True}


def config_file(home: Path) -> Path:
    return home / "lunar" / "config.yaml"


def log_in(daemon: Daemon, home: Path, tmp_path: Path) -> str:
    """A complete approved login; its stderr."""
    proc, record = start_login(daemon, home, tmp_path)
    decide(daemon, wait_for_file(record, proc), "allow")
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return err


def test_login_approved_saves_a_token_that_lists_functions(
    daemon: Daemon, home: Path, tmp_path: Path
) -> None:
    proc, record = start_login(daemon, home, tmp_path)
    url = wait_for_file(record, proc)
    decide(daemon, url, "allow")
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert url in err  # printed as well as opened
    user_code = re.search(r"approve the code (\w{8})", err)
    assert user_code, err

    path = config_file(home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = path.read_text()
    assert f'server: "{daemon.url}"' in saved
    token = re.search(r'token: "([0-9a-f]{64})"', saved)
    assert token and token.group(1) != daemon.api_key

    logged_in = Lunar(clean_env(home))  # no LUNAR_*: server and token from the file only
    listed = logged_in.json("functions", "list")
    assert "functions" in listed
    names = [t["name"] for t in logged_in.json("tokens", "list")["tokens"]]
    assert f"CLI ({user_code.group(1)})" in names


def test_login_denied_fails_and_saves_nothing(daemon: Daemon, home: Path, tmp_path: Path) -> None:
    proc, record = start_login(daemon, home, tmp_path)
    decide(daemon, wait_for_file(record, proc), "deny")
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "Error: the login was denied in the dashboard" in err
    assert "Traceback" not in err
    assert not config_file(home).exists()


def test_login_gives_up_when_not_approved_in_time(
    daemon: Daemon, home: Path, tmp_path: Path
) -> None:
    proc, _record = start_login(daemon, home, tmp_path, "--timeout", "0.3")
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "not approved within 0.3 s" in err
    assert not config_file(home).exists()


class _FakeDeviceServer(BaseHTTPRequestHandler):
    """A server whose device codes are gone (404) or already collected (410) at once."""

    poll_status = 404

    def _send(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self._send(200, {"device_code": "abc", "user_code": "ABCD2345",
                         "approval_url": "http://x/#!/device-approve/abc",
                         "expires_in": 300, "interval": 5})  # fmt: skip

    def do_GET(self) -> None:
        messages = {404: "Device code not found or expired", 410: "Token already collected"}
        self._send(self.poll_status, {"error": messages[self.poll_status]})

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeDeviceServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("status", "message"),
    [(404, "the login code expired or is unknown"), (410, "already collected by another client")],
)
def test_login_stops_when_the_code_is_gone(
    fake_server: ThreadingHTTPServer, home: Path, status: int, message: str
) -> None:
    handler = type("Handler", (_FakeDeviceServer,), {"poll_status": status})
    fake_server.RequestHandlerClass = handler
    url = f"http://127.0.0.1:{fake_server.server_address[1]}"
    result = Lunar(clean_env(home))("--server", url, "login", "--no-browser",
                                    "--poll-interval", "0.05")  # fmt: skip
    assert result.code == 1
    assert message in result.err and "Traceback" not in result.err
    assert not config_file(home).exists()


def test_logout_revokes_the_token_and_forgets_it(
    daemon: Daemon, home: Path, tmp_path: Path
) -> None:
    log_in(daemon, home, tmp_path)
    token = re.search(r'token: "([0-9a-f]{64})"', config_file(home).read_text())
    assert token
    lunar = Lunar(clean_env(home, LUNAR_SERVER=daemon.url)).runner()
    result = lunar("logout")
    assert result.code == 0, result.err
    assert "token revoked" in result.err
    saved = config_file(home).read_text()
    assert "token" not in saved and daemon.url in saved  # the server stays
    again = httpx.get(
        f"{daemon.url}/api/functions", headers={"Authorization": f"Bearer {token.group(1)}"}
    )
    assert again.status_code == 401
    assert lunar("functions", "list").err.strip() == "Error: 401: not logged in — run 'lunar login'"


def test_whoami_reports_server_and_token(daemon: Daemon, home: Path, tmp_path: Path) -> None:
    lunar = Lunar(clean_env(home, LUNAR_SERVER=daemon.url)).runner()
    before = lunar("--output", "json", "whoami")
    assert before.code == 1
    report = json.loads(before.out)
    assert report["reachable"] is True and report["authenticated"] is False

    log_in(daemon, home, tmp_path)
    after = lunar("--output", "json", "status")
    assert after.code == 0, after.err
    report = json.loads(after.out)
    assert report["server"] == daemon.url and report["server_source"] == "LUNAR_SERVER"
    assert report["authenticated"] is True and report["token_source"] == str(config_file(home))


def test_whoami_unreachable_server(home: Path) -> None:
    lunar = Lunar(clean_env(home)).runner()
    result = lunar("--output", "json", "--server", "http://127.0.0.1:9", "whoami")
    assert result.code == 1
    report = json.loads(result.out)
    assert report["reachable"] is False
    assert report["error"] == "cannot reach http://127.0.0.1:9: connection refused"


def test_login_with_token_checks_and_saves_it(daemon: Daemon, home: Path) -> None:
    lunar = Lunar(clean_env(home, LUNAR_SERVER=daemon.url)).runner()
    wrong = lunar("login", "--with-token", input="not-a-token\n")
    assert wrong.code == 1 and "401" in wrong.err
    assert not config_file(home).exists()
    right = lunar("login", "--with-token", input=daemon.api_key + "\n")
    assert right.code == 0, right.err
    assert "functions" in lunar.json("functions", "list")
    assert stat.S_IMODE(config_file(home).stat().st_mode) == 0o600
