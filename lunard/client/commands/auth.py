"""`lunar login`, `lunar logout`, `lunar whoami` (alias `status`): credentials and where they go."""

from __future__ import annotations

import sys
from typing import Any

import click

from lunard.client import device_login
from lunard.client.api import Api
from lunard.client.config import TOKEN_ENV, normalize_server, save_config
from lunard.client.context import AppContext, pass_app
from lunard.client.errors import ApiError, ClientError, ConnectionFailed
from lunard.client.views import fields


def _save_login(app: AppContext, token: str, token_id: str | None) -> None:
    settings = app.settings
    values = dict(settings.stored)
    values.update({"server": settings.server, "token": token})
    values.pop("token_id", None)
    if token_id:
        values["token_id"] = token_id
    save_config(settings.config_file, values)


def _check_token(server: str, token: str) -> None:
    with Api(server, token) as api:
        api.list_functions(1, 0)  # 401 here says the token is wrong, before it is saved


@click.command("login")
@click.option("--no-browser", is_flag=True, help="only print the URL, do not open a browser")
@click.option(
    "--with-token",
    is_flag=True,
    help="read a token (or the admin key) from stdin instead of the device flow",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0.05),
    metavar="SECONDS",
    help="seconds between polls [default: what the server asks, 5]",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="give up sooner than the code's expiry (300 s)",
)
@pass_app
def login(
    app: AppContext,
    no_browser: bool,
    with_token: bool,
    poll_interval: float | None,
    timeout: float | None,
) -> None:
    """Log in with the device flow: approve the printed code in the dashboard.

    The server URL and the new API token are saved in the config file (mode 0600).
    """
    server = app.settings.server
    if with_token:
        token = sys.stdin.readline().strip()
        if not token:
            raise click.UsageError("--with-token: no token on stdin")
        _check_token(server, token)
        _save_login(app, token, None)
        app.out.note(f"Logged in to {server}; saved to {app.settings.config_file}")
        return
    api = app.api
    request = device_login.request_code(api)
    url = str(request.get("approval_url"))
    app.out.note(f"To log in, open this page and approve the code {request.get('user_code')}:")
    app.out.note(f"  {url}")
    if not no_browser and device_login.can_open_browser():
        device_login.open_in_background(url)
    app.out.note("Waiting for approval (Ctrl+C to cancel)...")
    result = device_login.poll_token(api, request, interval=poll_interval, timeout=timeout)
    with Api(server, result.token) as authed:
        token_id = device_login.find_token_id(authed, result.token_name)
    _save_login(app, result.token, token_id)
    summary = {
        "server": server,
        "token_name": result.token_name,
        "token_id": token_id,
        "config_file": str(app.settings.config_file),
    }
    app.out.emit(
        summary,
        lambda _: [
            f"Logged in to {server} as {result.token_name}; saved to {app.settings.config_file}"
        ],
    )


@click.command("logout")
@pass_app
def logout(app: AppContext) -> None:
    """Remove the saved token and revoke it on the server."""
    settings = app.settings
    stored = dict(settings.stored)
    token, token_id = stored.pop("token", None), stored.pop("token_id", None)
    if not token:
        app.out.note(f"not logged in (no token in {settings.config_file})")
        return
    server = normalize_server(stored.get("server") or settings.server)
    revoked = False
    if token_id:
        try:
            with Api(server, token) as api:
                api.revoke_token(token_id)
            revoked = True
        except ClientError as exc:
            app.out.note(f"warning: could not revoke the token on {server}: {exc.message}")
    save_config(settings.config_file, stored)
    note = "token revoked" if revoked else "token not revoked on the server"
    app.out.note(f"Logged out of {server} ({note}); removed it from {settings.config_file}")
    if settings.token_source == TOKEN_ENV:
        app.out.note(f"note: {TOKEN_ENV} is still set and still gives a token")


def _status(app: AppContext) -> dict[str, Any]:
    settings = app.settings
    report: dict[str, Any] = {
        "server": settings.server,
        "server_source": settings.server_source,
        "config_file": str(settings.config_file),
        "reachable": False,
        "token_source": settings.token_source,
        "authenticated": False,
    }
    try:
        app.api.list_functions(1, 0)
        report.update(reachable=True, authenticated=True)
    except ConnectionFailed as exc:
        report["error"] = exc.message
    except ApiError as exc:
        report["reachable"] = True
        report["error"] = exc.message
    token_id = settings.stored.get("token_id")
    if report["authenticated"] and token_id and settings.token == settings.stored.get("token"):
        report["token_id"] = token_id
    return report


def _status_view(report: dict[str, Any]) -> list[Any]:
    rows = [
        ("server", f"{report['server']}  (from {report['server_source']})"),
        ("reachable", "yes" if report["reachable"] else "no"),
        ("token", f"from {report['token_source']}" if report["token_source"] else "none"),
        ("logged in", "yes" if report["authenticated"] else "no"),
    ]
    if report.get("token_id"):
        rows.append(("token id", report["token_id"]))
    if report.get("error"):
        rows.append(("error", report["error"]))
    return [fields(rows)]


@click.command("whoami")
@pass_app
@click.pass_context
def whoami(ctx: click.Context, app: AppContext) -> None:
    """Which server, whether it answers, whether the token works (exit 1 if not)."""
    report = _status(app)
    app.out.emit(report, _status_view)
    if not report["authenticated"]:
        ctx.exit(1)
