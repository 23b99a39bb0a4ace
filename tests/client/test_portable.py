"""`lunar export` and `lunar import` against a real daemon (issue 14 part 4)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx

from tests.client.helpers import Lunar
from tests.daemon import Daemon

CODE = "function handler(ctx, event) return {statusCode = 200, body = 'v%d'} end"


def make_function(daemon: Daemon) -> str:
    with daemon.client() as api:
        fid: str = api.post("/api/functions", json={"name": "port", "code": CODE % 1}).json()["id"]
        api.put(f"/api/functions/{fid}", json={"code": CODE % 2, "retention_days": 7})
        api.put(f"/api/functions/{fid}/env", json={"env_vars": {"KEY": "secret"}})
        kv = {"global": False, "kvEntries": [{"key": "k", "value": "v"}]}
        api.post(f"/api/functions/{fid}/kv", json=kv)
    return fid


def test_export_to_a_file_and_import_it(lunar: Lunar, daemon: Daemon, tmp_path: Path) -> None:
    fid = make_function(daemon)
    path = tmp_path / "port.json"
    result = lunar("export", fid, "-o", str(path), "--include-env")
    assert result.code == 0, result.err
    assert "2 versions" in result.err
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document["env_vars"] == {"KEY": "secret"}

    imported = lunar("import", str(path), "--output", "json").json()
    assert imported["id"] != fid
    assert imported["env_vars"] == {"KEY": "secret"}
    assert imported["scoped_data"] == {"k": "v"}
    assert imported["retention_days"] == 7
    assert imported["active_version"]["version"] == 2
    with httpx.Client(base_url=daemon.url) as anon:
        assert anon.get(f"/fn/{imported['id']}").text == "v2"


def test_export_to_stdout_leaves_env_out(lunar: Lunar, daemon: Daemon) -> None:
    fid = make_function(daemon)
    document = lunar("export", fid).json()
    assert "env_vars" not in document
    assert [v["code"] for v in document["versions"]] == [CODE % 1, CODE % 2]
    table = lunar("import", "-", input=json.dumps(document))
    assert table.code == 0, table.err
    assert table.out.startswith("imported port as ") and "active version 2" in table.out


def test_errors_are_one_line(lunar: Lunar, tmp_path: Path) -> None:
    missing = lunar("export", "nope")
    assert missing.code == 1 and "Function not found" in missing.err
    bad = tmp_path / "bad.json"
    bad.write_text('{"format_version": 1, "name": "x", "versions": [{"version": 1}]}')
    result = lunar("import", str(bad))
    assert result.code == 1
    assert "versions[0].code: must be a string" in result.err
    bad.write_text("not json")
    assert "is not JSON" in lunar("import", str(bad)).err
