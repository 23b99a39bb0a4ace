"""Portable functions: `GET /api/functions/{id}/export` and `POST /api/functions/import`,
and the admin check of `POST /api/admin/backup` (issue 14 part 4), on a real daemon."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.daemon import Daemon, start_daemon
from tests.http.helpers import CODE, create, fetch

V2 = "function handler(ctx, event) return {statusCode = 201, body = 'v2'} end"
V3 = "function handler(ctx, event)\n  -- ünïcode ✓\n  return {statusCode = 202}\nend\n"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = start_daemon(tmp_path_factory.mktemp("portable") / "data")
    yield d
    d.stop()


def error_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    message: str = response.json()["error"]
    return message


def rich_function(api: httpx.Client) -> str:
    """A function with versions 1..3 (2 active),
    every setting off its default, env vars and function-scope KV."""
    fid: str = create(api, description="exported")["id"]
    for code in (V2, V3):
        assert api.put(f"/api/functions/{fid}", json={"code": code}).status_code == 200
    assert api.post(f"/api/functions/{fid}/versions/ver_{fid}_v2/activate").status_code == 200
    settings = {
        "retention_days": 30,
        "cron_schedule": "*/5 * * * *",
        "cron_status": "active",
        "save_response": True,
        "disabled": True,
        "max_concurrency": 3,
    }
    assert api.put(f"/api/functions/{fid}", json=settings).status_code == 200
    assert api.put(f"/api/functions/{fid}/env", json={"env_vars": {"TOKEN": "s3cret"}}).is_success
    kv = {"global": False, "kvEntries": [{"key": "count", "value": "41"}]}
    assert api.post(f"/api/functions/{fid}/kv", json=kv).is_success
    return fid


def versions_of(api: httpx.Client, fid: str) -> list[dict[str, Any]]:
    body = api.get(f"/api/functions/{fid}/versions", params={"limit": 100}).json()
    return [
        {k: v for k, v in version.items() if k not in ("id", "function_id")}
        for version in body["versions"]
    ]


def comparable(view: dict[str, Any]) -> dict[str, Any]:
    """A function's view without what an import changes on purpose (id and its dates)."""
    view = {k: v for k, v in view.items() if k not in ("id", "created_at", "updated_at")}
    view["active_version"] = {
        k: v for k, v in view["active_version"].items() if k not in ("id", "function_id")
    }
    return view


def test_export_import_round_trip_is_byte_for_byte(api: httpx.Client) -> None:
    fid = rich_function(api)
    response = api.get(f"/api/functions/{fid}/export", params={"include_env": "true"})
    assert response.status_code == 200
    document = response.json()
    assert document["format_version"] == 1
    assert [v["version"] for v in document["versions"]] == [1, 2, 3]
    assert [v["is_active"] for v in document["versions"]] == [False, True, False]
    assert document["env_vars"] == {"TOKEN": "s3cret"}
    assert document["kv"] == {"count": "41"}

    imported = api.post("/api/functions/import", json=document)
    assert imported.status_code == 201, imported.text
    new_id = imported.json()["id"]
    assert new_id != fid
    assert comparable(fetch(api, new_id)) == comparable(fetch(api, fid))
    assert versions_of(api, new_id) == versions_of(api, fid)
    assert fetch(api, new_id)["active_version"]["id"] == f"ver_{new_id}_v2"
    # and exporting the copy gives the same document, but for its id and time
    again = api.get(f"/api/functions/{new_id}/export", params={"include_env": "true"}).json()
    for key in ("source_id", "exported_at"):
        again.pop(key), document.pop(key)
    assert again == document


def test_export_leaves_env_out_unless_asked(api: httpx.Client) -> None:
    fid = rich_function(api)
    document = api.get(f"/api/functions/{fid}/export").json()
    assert "env_vars" not in document
    imported = api.post("/api/functions/import", json=document).json()
    assert imported["env_vars"] == {}
    assert imported["scoped_data"] == {"count": "41"}


def test_import_keeps_gaps_in_version_numbers(api: httpx.Client) -> None:
    fid = rich_function(api)
    assert api.delete(f"/api/functions/{fid}/versions/ver_{fid}_v1").is_success
    document = api.get(f"/api/functions/{fid}/export").json()
    new_id = api.post("/api/functions/import", json=document).json()["id"]
    assert [v["version"] for v in versions_of(api, new_id)] == [3, 2]
    # the next deploy continues after the highest number
    api.put(f"/api/functions/{new_id}", json={"code": CODE})
    assert fetch(api, new_id)["active_version"]["version"] == 4


def test_imported_function_runs(api: httpx.Client, daemon: Daemon) -> None:
    document = api.get(f"/api/functions/{create(api, code=V2)['id']}/export").json()
    new_id = api.post("/api/functions/import", json=document).json()["id"]
    with daemon.client(auth=False) as anon:
        response = anon.get(f"/fn/{new_id}")
    assert (response.status_code, response.text) == (201, "v2")


def test_export_unknown_function_is_404(api: httpx.Client) -> None:
    assert error_of(api.get("/api/functions/nope/export"), 404) == "Function not found"


def test_export_and_import_need_auth(anon: httpx.Client, api: httpx.Client) -> None:
    fid = create(api)["id"]
    assert anon.get(f"/api/functions/{fid}/export").status_code == 401
    assert anon.post("/api/functions/import", json={}).status_code == 401


def _valid(api: httpx.Client) -> dict[str, Any]:
    fid = rich_function(api)
    document: dict[str, Any] = api.get(f"/api/functions/{fid}/export?include_env=1").json()
    return document


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format_version=2), "format_version: must be 1"),
        (lambda d: d.pop("name"), "name: must be a string"),
        (lambda d: d.update(name="  "), "name: name cannot be empty"),
        (lambda d: d.update(description=5), "description: must be a string or null"),
        (lambda d: d.update(versions=[]), "versions: must be a non-empty list"),
        (lambda d: d["versions"][2].update(code=""), "versions[2].code: code cannot be empty"),
        (lambda d: d["versions"][1].update(code=7), "versions[1].code: must be a string"),
        (lambda d: d["versions"][0].update(version=0), "versions[0].version: must be a positive"),
        (lambda d: d["versions"][2].update(version=1), "versions[2].version: version 1 appears"),
        (lambda d: d["versions"][0].update(is_active=True), "versions: exactly one version"),
        (lambda d: d["versions"][0].update(is_active="no"), "versions[0].is_active: must be a"),
        (lambda d: d["settings"].update(retention_days=8), "settings.retention_days: retention"),
        (lambda d: d["settings"].update(cron_schedule="nope"), "settings.cron_schedule: "),
        (lambda d: d["settings"].update(cron_status="on"), "settings.cron_status: cron_status"),
        (lambda d: d["settings"].update(disabled=1), "settings.disabled: must be a boolean"),
        (lambda d: d["settings"].update(max_concurrency=-1), "settings.max_concurrency: must"),
        (lambda d: d["settings"].update(colour="red"), "settings.colour: unknown setting"),
        (lambda d: d.update(kv={"bad key": "x"}), "kv.bad key: key can only contain"),
        (lambda d: d.update(kv={"k": 1}), "kv.k: must be a string"),
        (lambda d: d.update(env_vars={"A": ""}), "env_vars.A: environment variable value"),
        (lambda d: d.update(env_vars=[]), "env_vars: must be an object of strings"),
        (lambda d: d.update(kv="k=v"), "kv: must be an object of strings"),
        (lambda d: d.update(settings=[]), "settings: must be an object"),
        (lambda d: d.update(format_version=True), "format_version: must be 1"),
        (lambda d: d.update(format_version=1.0), "format_version: must be 1"),
        (lambda d: d.update(format_version=None), "format_version: must be 1"),
        (lambda d: d.update(lunard_version=1), "lunard_version: must be a string or null"),
        (lambda d: d.update(source_id=[]), "source_id: must be a string or null"),
        (lambda d: d.update(exported_at="today"), "exported_at: must be Unix seconds"),
    ],
)
def test_bad_document_names_the_field(api: httpx.Client, change: Any, message: str) -> None:
    document = copy.deepcopy(_valid(api))
    before = api.get("/api/functions", params={"limit": 1}).json()["pagination"]["total"]
    change(document)
    assert error_of(api.post("/api/functions/import", json=document), 400).startswith(message)
    after = api.get("/api/functions", params={"limit": 1}).json()["pagination"]["total"]
    assert after == before


def test_import_null_equals_absent(api: httpx.Client) -> None:
    """The API's convention holds for the document too: `null` is an absent field."""
    minimal = {
        "format_version": 1,
        "name": "minimal",
        "versions": [{"version": 1, "code": CODE, "is_active": True}],
    }
    nulls = dict.fromkeys(
        ("settings", "kv", "env_vars", "description", "lunard_version", "exported_at", "source_id"),
    )
    views = []
    for document in (minimal, {**minimal, **nulls}):
        created = api.post("/api/functions/import", json=document)
        assert created.status_code == 201, created.text
        views.append(comparable(fetch(api, created.json()["id"])))
    assert views[0] == views[1]
    assert views[0]["env_vars"] == {} and views[0]["disabled"] is False


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE", "TRACE"])
@pytest.mark.parametrize("auth", [True, False])
def test_other_methods_on_import_are_405(
    api: httpx.Client, anon: httpx.Client, method: str, auth: bool
) -> None:
    """The path is its own resource (RFC 9110 §15.5.6), not the function whose id is
    `import`: 405 with that resource's Allow, before authentication as every 405 is."""
    response = (api if auth else anon).request(method, "/api/functions/import", json={"a": 1})
    assert response.status_code == 405, response.text
    assert response.headers["Allow"] == "POST, OPTIONS"
    assert response.text == "405 method not allowed\n"


def test_import_body_not_an_object_is_400(api: httpx.Client) -> None:
    assert error_of(api.post("/api/functions/import", content=b"[1]"), 400) == (
        "Invalid request body"
    )


# --------------------------------------------------------------------------- backup route


def test_backup_needs_the_admin_key(daemon: Daemon, anon: httpx.Client, tmp_path: Path) -> None:
    body = {"path": str(tmp_path / "b")}
    assert anon.post("/api/admin/backup", json=body).status_code == 401
    with daemon.client() as api:
        code = api.post("/api/auth/device-request").json()["device_code"]
        approve = {"device_code": code, "action": "allow"}
        assert api.post("/api/auth/device-approve", json=approve).is_success
    token = anon.get("/api/auth/device-token", params={"code": code}).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    response = anon.post("/api/admin/backup", json=body, headers=headers)
    assert error_of(response, 403) == "This operation needs the admin key"
    assert not (tmp_path / "b").exists()


def test_backup_refuses_a_non_empty_or_relative_dir(api: httpx.Client, tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep me")
    response = api.post("/api/admin/backup", json={"path": str(tmp_path / "full")})
    assert "is not empty" in error_of(response, 409)
    assert (tmp_path / "full" / "x").read_text() == "keep me"
    relative = api.post("/api/admin/backup", json={"path": "rel/dir"})
    assert "absolute" in error_of(relative, 400)
    assert error_of(api.post("/api/admin/backup", json={}), 400).startswith("path:")
