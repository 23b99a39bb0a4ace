"""Versions, activation, deletion and diff (http-api §5.17–5.21, statements 60–64)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.http import helpers

V1 = "function handler(ctx, event)\n  return {statusCode = 200, body = 'one'}\nend\n"
V2 = "function handler(ctx, event)\n  return {statusCode = 200, body = 'two'}\nend\n"
MISSING = "doesnotexist00000000"


def create(api: httpx.Client, code: str = V1) -> str:
    function_id: str = helpers.create(api, code)["id"]
    return function_id


def add_version(api: httpx.Client, function_id: str, code: str) -> None:
    assert api.put(f"/api/functions/{function_id}", json={"code": code}).status_code == 200


def versions(api: httpx.Client, function_id: str, query: str = "") -> dict[str, Any]:
    response = api.get(f"/api/functions/{function_id}/versions{query}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def active_number(api: httpx.Client, function_id: str) -> int:
    number: int = api.get(f"/api/functions/{function_id}").json()["active_version"]["version"]
    return number


def error_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    message: str = response.json()["error"]
    return message


# --------------------------------------------------------------------------- list and get


def test_s60_list_versions_newest_first(api: httpx.Client) -> None:
    function_id = create(api)
    add_version(api, function_id, V2)
    body = versions(api, function_id)
    assert [v["version"] for v in body["versions"]] == [2, 1]
    assert body["versions"][0]["code"] == V2
    assert body["versions"][1]["code"] == V1
    assert body["pagination"] == {"total": 2, "limit": 20, "offset": 0}


def test_versions_pagination(api: httpx.Client) -> None:
    function_id = create(api)
    for n in range(2, 6):
        add_version(api, function_id, f"return {n}")
    page = versions(api, function_id, "?limit=2&offset=1")
    assert [v["version"] for v in page["versions"]] == [4, 3]
    assert page["pagination"] == {"total": 5, "limit": 2, "offset": 1}
    assert versions(api, function_id, "?offset=50")["versions"] == []


def test_versions_of_unknown_function(api: httpx.Client) -> None:
    response = api.get(f"/api/functions/{MISSING}/versions")
    assert error_of(response, 404) == "Function not found"


def test_s61_get_version_by_number(api: httpx.Client) -> None:
    function_id = create(api)
    add_version(api, function_id, V2)
    response = api.get(f"/api/functions/{function_id}/versions/2")
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == 2
    assert body["id"] == f"ver_{function_id}_v2"
    assert body["id"] == versions(api, function_id)["versions"][0]["id"]
    assert body["function_id"] == function_id
    assert body["code"] == V2
    assert body["is_active"] is True
    v1 = api.get(f"/api/functions/{function_id}/versions/1").json()
    assert (v1["version"], v1["is_active"]) == (1, False)
    for bad in ("abc", "1.5", "2x"):
        response = api.get(f"/api/functions/{function_id}/versions/{bad}")
        assert error_of(response, 400) == "Invalid version number"
    assert error_of(api.get(f"/api/functions/{function_id}/versions/99"), 404) == (
        "Version not found"
    )
    assert error_of(api.get(f"/api/functions/{MISSING}/versions/1"), 404) == "Function not found"


# --------------------------------------------------------------------------- activate


def test_s62_activate_version(api: httpx.Client) -> None:
    function_id = create(api)
    add_version(api, function_id, V2)
    assert api.post(f"/fn/{function_id}").text == "two"
    v1_id = f"ver_{function_id}_v1"
    response = api.post(f"/api/functions/{function_id}/versions/{v1_id}/activate")
    assert response.status_code == 200
    assert response.content == b""
    assert active_number(api, function_id) == 1
    called = api.post(f"/fn/{function_id}")
    assert called.text == "one"
    assert called.headers["X-Function-Version-Id"] == v1_id
    listed = versions(api, function_id)["versions"]
    assert [(v["version"], v["is_active"]) for v in listed] == [(2, False), (1, True)]
    # activating the active version again is fine and creates nothing
    again = api.post(f"/api/functions/{function_id}/versions/{v1_id}/activate")
    assert again.status_code == 200
    assert versions(api, function_id)["pagination"]["total"] == 2
    unknown = api.post(f"/api/functions/{function_id}/versions/ver_nope_v1/activate")
    assert error_of(unknown, 404) == "Version not found"


def test_activate_through_another_function_is_404(api: httpx.Client) -> None:
    owner, other = create(api), create(api)
    add_version(api, owner, V2)
    path = f"/api/functions/{other}/versions/ver_{owner}_v1/activate"
    assert error_of(api.post(path), 404) == "Version not found"
    assert active_number(api, owner) == 2
    assert active_number(api, other) == 1


# --------------------------------------------------------------------------- diff


def test_s63_diff(api: httpx.Client) -> None:
    function_id = create(api)
    add_version(api, function_id, V2)
    response = api.get(f"/api/functions/{function_id}/diff/1/2")
    assert response.status_code == 200
    body = response.json()
    assert (body["old_version"], body["new_version"]) == (1, 2)
    assert body["diff"] == [
        {"line_type": "unchanged", "old_line": 1, "new_line": 1, "content": V1.split("\n")[0]},
        {
            "line_type": "removed",
            "old_line": 2,
            "content": "  return {statusCode = 200, body = 'one'}",
        },
        {
            "line_type": "added",
            "new_line": 2,
            "content": "  return {statusCode = 200, body = 'two'}",
        },
        {"line_type": "unchanged", "old_line": 3, "new_line": 3, "content": "end"},
    ]
    assert error_of(api.get(f"/api/functions/{function_id}/diff/x/2"), 400) == (
        "Invalid version number v1"
    )
    assert error_of(api.get(f"/api/functions/{function_id}/diff/1/y"), 400) == (
        "Invalid version number v2"
    )
    assert error_of(api.get(f"/api/functions/{function_id}/diff/x/y"), 400) == (
        "Invalid version number v1"
    )
    assert error_of(api.get(f"/api/functions/{function_id}/diff/1/99"), 404) == (
        "Version v2 not found"
    )
    assert error_of(api.get(f"/api/functions/{function_id}/diff/98/99"), 404) == (
        "Version v1 not found"
    )


def test_diff_is_not_reordered_and_same_version_is_unchanged(api: httpx.Client) -> None:
    function_id = create(api)
    add_version(api, function_id, V2)
    backwards = api.get(f"/api/functions/{function_id}/diff/2/1").json()
    assert (backwards["old_version"], backwards["new_version"]) == (2, 1)
    removed = [d["content"] for d in backwards["diff"] if d["line_type"] == "removed"]
    assert removed == ["  return {statusCode = 200, body = 'two'}"]
    same = api.get(f"/api/functions/{function_id}/diff/1/1").json()["diff"]
    assert {d["line_type"] for d in same} == {"unchanged"}
    assert len(same) == 3


def test_diff_requires_auth(anon: httpx.Client, api: httpx.Client) -> None:
    function_id = create(api)
    assert anon.get(f"/api/functions/{function_id}/diff/1/1").status_code == 401
    assert anon.get(f"/api/functions/{function_id}/versions").status_code == 401
    assert anon.get(f"/api/functions/{function_id}/versions/1").status_code == 401


# --------------------------------------------------------------------------- delete


def test_s64_delete_versions(api: httpx.Client) -> None:
    function_id = create(api)
    add_version(api, function_id, V2)
    add_version(api, function_id, "return 3")
    active_id = f"ver_{function_id}_v3"
    response = api.delete(f"/api/functions/{function_id}/versions/{active_id}")
    assert error_of(response, 400) == "Cannot delete active version"
    inactive_id = f"ver_{function_id}_v2"
    response = api.delete(f"/api/functions/{function_id}/versions/{inactive_id}")
    assert response.status_code == 204
    assert response.content == b""
    assert [v["version"] for v in versions(api, function_id)["versions"]] == [3, 1]
    again = api.delete(f"/api/functions/{function_id}/versions/{inactive_id}")
    assert error_of(again, 404) == "Version not found"
    unknown = api.delete(f"/api/functions/{function_id}/versions/ver_nope_v9")
    assert error_of(unknown, 404) == "Version not found"


def test_delete_through_another_function_is_404(api: httpx.Client) -> None:
    owner, other = create(api), create(api)
    add_version(api, owner, V2)
    response = api.delete(f"/api/functions/{other}/versions/ver_{owner}_v1")
    assert error_of(response, 404) == "Version not found"
    assert versions(api, owner)["pagination"]["total"] == 2


def test_deleting_top_inactive_version_reuses_its_number(api: httpx.Client) -> None:
    function_id = create(api)
    add_version(api, function_id, V2)
    api.post(f"/api/functions/{function_id}/versions/ver_{function_id}_v1/activate")
    assert api.delete(f"/api/functions/{function_id}/versions/ver_{function_id}_v2").is_success
    add_version(api, function_id, "return 'again'")
    latest = api.get(f"/api/functions/{function_id}/versions/2").json()
    assert (latest["code"], latest["is_active"]) == ("return 'again'", True)


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", "/versions/1"),
        ("POST", f"/versions/ver_{MISSING}_v1/activate"),
        ("DELETE", f"/versions/ver_{MISSING}_v1"),
        ("GET", "/diff/1/2"),
    ],
)
def test_version_routes_on_unknown_function(api: httpx.Client, method: str, suffix: str) -> None:
    # DECISIONS 8: an unknown function is "Function not found" on every route under it.
    response = api.request(method, f"/api/functions/{MISSING}{suffix}")
    assert error_of(response, 404) == "Function not found"
