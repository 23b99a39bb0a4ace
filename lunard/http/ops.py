"""Operations endpoints: liveness and readiness, public and cheap."""

from __future__ import annotations

from quart import Blueprint, Response

from lunard.http.deps import deps
from lunard.http.responses import json_response

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
async def healthz() -> Response:
    """200 while the process serves requests."""
    return json_response({"status": "ok"})


@bp.get("/readyz")
async def readyz() -> Response:
    """200 once every actor has started, 503 with the missing ones before."""
    readiness = deps().readiness
    if readiness.ready:
        return json_response({"status": "ready"})
    missing = sorted(readiness.expected - readiness.started)
    return json_response({"status": "starting", "waiting_for": missing}, 503)
