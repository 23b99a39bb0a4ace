"""The daemon does not load pyarrow unless a feature that needs it runs (issue 13: pyarrow
is ~55 MB of RSS). Serving `/fn` calls, writing their records and reading them back use
none of it; only the SQL console (`/api/analytics/query`) and the lake exporter do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.daemon import Daemon, start_daemon
from tests.http.helpers import create

HANDLER = """
function handler(ctx, event)
  log.info("hello " .. ctx.executionId)
  log.warn("second")
  return {statusCode = 200, body = "ok"}
end
"""

# Imports the daemon's modules, then runs the sink's write path, a retention delete, the
# reads and the canned reports on a records file; prints the pyarrow modules then loaded.
IN_PROCESS = """
import sys
import duckdb
import lunard.supervisor, lunard.http.app
from lunard.messages import ExecutionRecord, JobLog, RecordBatch
from lunard.records import reports, schema, store
from lunard.records.writes import delete_executions, write_batches

conn = duckdb.connect(sys.argv[1])
schema.migrate(conn)
now = 1_750_000_000
batches = [
    RecordBatch(
        execution=ExecutionRecord(
            id=f"e{i}", function_id="f", function_version_id="v", status="success",
            duration_ms=3, error_message=None, event_json="{}", response_json=None,
            trigger="http", created_at=now - i * 3600,
        ),
        logs=[JobLog(level="info", message="hi", created_at=now + 0.5)],
    )
    for i in range(3)
]
assert write_batches(conn, batches) == 6
assert store.get_execution(conn, "e0") is not None
assert store.list_logs(conn, "e0", 20, 0)[1] == 1
reports.overview(conn, "24h", now)
assert delete_executions(conn, older_than={"f": now - 1800}) == 2
print(",".join(sorted(m for m in sys.modules if m.split(".")[0] == "pyarrow")))
"""


def _loaded_pyarrow(pid: int) -> list[str]:
    """The pyarrow files mapped into process `pid`."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return sorted({line.split()[-1] for line in maps.splitlines() if "pyarrow" in line})


def test_the_sink_write_path_and_the_reads_import_no_pyarrow(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", IN_PROCESS, str(tmp_path / "records.duckdb")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_a_daemon_serving_calls_and_reads_has_not_loaded_pyarrow(tmp_path: Path) -> None:
    daemon: Daemon = start_daemon(tmp_path / "data")
    try:
        with daemon.client() as api, daemon.client(auth=False) as caller:
            fid = create(api, HANDLER)["id"]
            ids = []
            for _ in range(5):
                answer = caller.post(f"/fn/{fid}")
                assert answer.status_code == 200, answer.text
                ids.append(answer.headers["X-Execution-Id"])
            listed = api.get(f"/api/functions/{fid}/executions", params={"limit": 10})
            assert listed.status_code == 200, listed.text
            assert {e["id"] for e in listed.json()["executions"]} == set(ids)
            logs = api.get(f"/api/executions/{ids[0]}/logs")
            assert [x["message"] for x in logs.json()["logs"]] == [f"hello {ids[0]}", "second"]
            assert api.get(f"/api/executions/{ids[0]}").status_code == 200
            assert api.get(f"/api/functions/{fid}/analytics").status_code == 200
            assert api.get("/api/analytics/overview").status_code == 200
            assert api.get("/metrics").status_code == 200
            assert _loaded_pyarrow(daemon.proc.pid) == []

            # The SQL console is the feature that needs it (its columns go out as Arrow).
            query = api.post("/api/analytics/query", json={"sql": "SELECT count(*) FROM logs"})
            assert query.status_code == 200, query.text
            assert query.json()["rows"] == [[10]]
            assert _loaded_pyarrow(daemon.proc.pid) != []
    finally:
        assert daemon.stop() == 0, daemon.log()
