"""`lunar tokens ...`: the API tokens issued by device logins (http-api §5.7–5.8)."""

from __future__ import annotations

import click

from lunard.client import views
from lunard.client.context import AppContext, LunarGroup, pass_app


@click.group("tokens", cls=LunarGroup)
def group() -> None:
    """List and revoke API tokens."""


@group.command("list")
@pass_app
def list_tokens(app: AppContext) -> None:
    """List API tokens, newest first, revoked ones included."""
    app.out.emit(app.api.list_tokens(), views.tokens_list)


@group.command("revoke")
@click.argument("token_id")
@pass_app
def revoke(app: AppContext, token_id: str) -> None:
    """Revoke an API token: it stops working at once (it stays listed)."""
    app.out.emit(app.api.revoke_token(token_id), lambda _: [f"revoked {token_id}"])
