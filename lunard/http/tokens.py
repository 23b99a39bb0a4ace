"""Routes: list and revoke API tokens (http-api §5.7–5.8). Tokens are created only by the
device flow; there is no create, un-revoke or delete."""

from __future__ import annotations

from quart import Blueprint, Response

from lunard.errors import InternalError, NotFound
from lunard.http.auth import require_auth
from lunard.http.deps import deps
from lunard.http.responses import json_response
from lunard.state import tokens
from lunard.state.errors import StateError

bp = Blueprint("tokens", __name__)

TOKEN_NOT_FOUND = "Token not found"


@bp.get("/api/tokens")
@require_auth
async def list_tokens() -> Response:
    """All tokens, revoked included, newest first; the hash is never serialised."""
    rows = await deps().state.call(tokens.list_tokens)
    return json_response({"tokens": rows})


@bp.post("/api/tokens/<token_id>/revoke")
@require_auth
async def revoke_token(token_id: str) -> Response:
    """Revoke a token (idempotent); it keeps being listed with `revoked: true`."""
    try:
        found = await deps().state.call(lambda c: tokens.revoke_token(c, token_id))
    except StateError as exc:
        raise InternalError("Failed to revoke token") from exc
    if not found:
        raise NotFound(TOKEN_NOT_FOUND)
    return json_response({"success": True})
