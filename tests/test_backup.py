"""Backup of a running daemon and restore onto a new data dir (issue 14 part 4)."""

from __future__ import annotations

import argparse
import json
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lunard import backup_cli
from tests.daemon import Daemon, start_daemon

# --------------------------------------------------------------------------- helpers

WRITER = """
function handler(ctx, event)
  local n = event.query.n or "0"
  kv.set("call_" .. n, n)
  log.info("call " .. n)
  return {statusCode = 200, body = n}
end
"""


def run_cli(*argv: str) -> int:
    """`lunard backup|restore ...` through backup_cli's own parser (as cli.py will wire it)."""
    parser = argparse.ArgumentParser(prog="lunard")
    backup_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    return backup_cli.main(parser.parse_args(list(argv)))


class LoadGenerator:
    """Threads calling `/fn/{id}?n=<unique>`; remembers every call answered 200 and when."""

    def __init__(self, url: str, function_ids: list[str], threads: int = 4) -> None:
        self.url = url
        self.function_ids = function_ids
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acknowledged: list[tuple[float, str, str, str]] = []  # (t, fid, n, exec id)
        self.failures: list[str] = []
        self.threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)
        ]

    def __enter__(self) -> LoadGenerator:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def _run(self, index: int) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            n = 0
            while not self.stop.is_set():
                fid = self.function_ids[n % len(self.function_ids)]
                tag = f"{index}x{n}"
                n += 1
                response = client.get(f"/fn/{fid}", params={"n": tag})
                done = time.monotonic()
                with self.lock:
                    if response.status_code == 200:
                        self.acknowledged.append(
                            (done, fid, tag, response.headers["X-Execution-Id"])
                        )
                    else:
                        self.failures.append(f"{response.status_code} {response.text}")

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)

    def before(self, moment: float) -> list[tuple[float, str, str, str]]:
        with self.lock:
            return [call for call in self.acknowledged if call[0] < moment]


def wait_for_calls(load: LoadGenerator, at_least: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while load.count() < at_least:
        assert time.monotonic() < deadline, f"load generator stuck: {load.failures[:3]}"
        time.sleep(0.02)


def seed(api: httpx.Client) -> list[str]:
    """Two writer functions with history: versions, settings, env vars, KV (both scopes)."""
    ids = []
    for i in range(2):
        first = "function handler(ctx, event) return {statusCode = 500} end"
        body = {"name": f"writer-{i}", "description": f"writer {i}", "code": first}
        fid = api.post("/api/functions", json=body).json()["id"]
        assert api.put(f"/api/functions/{fid}", json={"code": WRITER}).is_success
        settings = {"retention_days": 30, "save_response": True, "cron_schedule": "0 3 * * *"}
        assert api.put(f"/api/functions/{fid}", json=settings).is_success
        env = {"env_vars": {"MARK": f"m{i}", "TOKEN": "s3cret"}}
        assert api.put(f"/api/functions/{fid}/env", json=env).is_success
        kv = {"global": True, "kvEntries": [{"key": "shared", "value": "g"}]}
        assert api.post(f"/api/functions/{fid}/kv", json=kv).is_success
        ids.append(fid)
    return ids


def snapshot(api: httpx.Client, ids: list[str]) -> dict[str, Any]:
    """What must survive: every function's full view and all its versions."""
    result = {}
    for fid in ids:
        view = api.get(f"/api/functions/{fid}").json()
        versions = api.get(f"/api/functions/{fid}/versions", params={"limit": 100}).json()
        result[fid] = {"view": view, "versions": versions["versions"]}
    return result


# --------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def backed_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A daemon under load backed up with `lunard backup`; what was acknowledged before."""
    root = tmp_path_factory.mktemp("backup")
    source = start_daemon(root / "source")
    try:
        with source.client() as api:
            ids = seed(api)
            before_load = snapshot(api, ids)
            with LoadGenerator(source.url, ids) as load:
                wait_for_calls(load, 200)
                began = time.monotonic()
                code = run_cli(
                    "backup", str(root / "out"), "--server", source.url, "--token", source.api_key
                )
                ended = time.monotonic()
                wait_for_calls(load, load.count() + 50)  # calls go on during and after it
            assert code == 0
            assert not load.failures, load.failures[:3]
            acknowledged = load.before(began)
            after_backup = load.acknowledged[len(load.before(ended)) :]
        yield {
            "root": root,
            "out": root / "out",
            "ids": ids,
            "before": before_load,
            "acknowledged": acknowledged,
            "later": after_backup,
            "source": source,
        }
    finally:
        source.stop()


def test_manifest_lists_files_with_checksums(backed_up: dict[str, Any]) -> None:
    out: Path = backed_up["out"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == 1
    assert set(manifest["files"]) == {"lunard.db", "records.duckdb"}
    assert manifest["schema_versions"]["state"] >= 2
    assert manifest["schema_versions"]["records"] >= 1
    for name, entry in manifest["files"].items():
        assert (out / name).stat().st_size == entry["size"]
        assert len(entry["sha256"]) == 64
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


def test_restored_daemon_has_everything_acknowledged_before_the_backup(
    backed_up: dict[str, Any],
) -> None:
    target = backed_up["root"] / "restored"
    assert run_cli("restore", str(backed_up["out"]), "--data-dir", str(target)) == 0
    restored = start_daemon(target)
    try:
        with restored.client() as api:
            now = snapshot(api, backed_up["ids"])
            for fid, before in backed_up["before"].items():
                view = now[fid]["view"]
                # KV grew under load; everything else is as it was
                assert {k: v for k, v in view.items() if k != "scoped_data"} == {
                    k: v for k, v in before["view"].items() if k != "scoped_data"
                }
                assert now[fid]["versions"] == before["versions"]
                assert view["env_vars"] == before["view"]["env_vars"]
            acknowledged = backed_up["acknowledged"]
            assert len(acknowledged) >= 200
            for _, fid, tag, _ in acknowledged:
                assert now[fid]["view"]["scoped_data"][f"call_{tag}"] == tag
            missing = [
                eid
                for _, _, _, eid in acknowledged
                if api.get(f"/api/executions/{eid}").status_code != 200
            ]
            assert missing == []
            _, _, tag, eid = acknowledged[-1]
            logs = api.get(f"/api/executions/{eid}/logs").json()["logs"]
            assert [entry["message"] for entry in logs] == [f"call {tag}"]
            # calls acknowledged after the backup ended are not in it
            later = backed_up["later"]
            assert later and all(
                api.get(f"/api/executions/{eid}").status_code == 404 for *_, eid in later[-5:]
            )
    finally:
        restored.stop()


def test_restore_refuses_an_existing_data_dir_without_force(
    backed_up: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    target: Path = backed_up["root"] / "occupied"
    target.mkdir()
    (target / "lunard.db").write_bytes(b"the old state")
    (target / "lunard.db-wal").write_bytes(b"stale wal")
    assert run_cli("restore", str(backed_up["out"]), "--data-dir", str(target)) == 1
    assert "--force" in capsys.readouterr().err
    assert (target / "lunard.db").read_bytes() == b"the old state"
    assert run_cli("restore", str(backed_up["out"]), "--data-dir", str(target), "--force") == 0
    assert (target / "lunard.db").read_bytes() == (backed_up["out"] / "lunard.db").read_bytes()
    assert not (target / "lunard.db-wal").exists()


def test_restore_refuses_a_corrupted_backup(
    backed_up: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    damaged: Path = backed_up["root"] / "damaged"
    damaged.mkdir()
    for item in backed_up["out"].iterdir():
        (damaged / item.name).write_bytes(item.read_bytes())
    records = bytearray((damaged / "records.duckdb").read_bytes())
    records[len(records) // 2] ^= 0xFF
    (damaged / "records.duckdb").write_bytes(bytes(records))
    target = backed_up["root"] / "never"
    assert run_cli("restore", str(damaged), "--data-dir", str(target)) == 1
    assert "does not match the manifest" in capsys.readouterr().err
    assert not (target / "lunard.db").exists()


def test_backup_refuses_a_non_empty_dir(
    backed_up: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    source: Daemon = backed_up["source"]
    code = run_cli(
        "backup", str(backed_up["out"]), "--server", source.url, "--token", source.api_key
    )
    assert code == 1
    assert "409" in capsys.readouterr().err
