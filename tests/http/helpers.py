"""Small helpers the API tests share: create and read functions through the real API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

CODE = "function handler(ctx, event) return {statusCode = 200} end"


def create(api: httpx.Client, code: str = CODE, **fields: Any) -> dict[str, Any]:
    """Create a uniquely named function; the API's answer (id, active_version...)."""
    body = {"name": f"fn-{uuid.uuid4().hex[:8]}", "code": code, **fields}
    response = api.post("/api/functions", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def fetch(api: httpx.Client, function_id: str) -> dict[str, Any]:
    """GET /api/functions/{id}, which must succeed."""
    response = api.get(f"/api/functions/{function_id}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result
