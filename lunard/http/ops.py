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
    """200 when this node should get traffic; 503 while it drains, while a component reports
    a problem (with the reasons), or before every actor has started (with the missing ones)."""
    readiness = deps().readiness
    if readiness.ready:
        return json_response({"status": "ready"})
    if readiness.draining:
        return json_response({"status": "draining"}, 503)
    if readiness.problems:
        return json_response({"status": "unavailable", "problems": dict(readiness.problems)}, 503)
    missing = sorted(readiness.expected - readiness.started)
    return json_response({"status": "starting", "waiting_for": missing}, 503)
