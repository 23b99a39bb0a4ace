"""`lunar analytics overview|function|query` print the API's reports (the `--server` mode of
`lunard analytics`, moved to the client)."""

from __future__ import annotations

import httpx

from tests.client.helpers import Lunar
from tests.daemon import Daemon


def api_get(daemon: Daemon, path: str, **params: str) -> dict:
    response = httpx.get(
        f"{daemon.url}{path}", params=params,
        headers={"Authorization": f"Bearer {daemon.api_key}"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


def test_function_report_is_the_apis(cli: Lunar, daemon: Daemon) -> None:
    fid = cli.create()["id"]
    for _ in range(3):
        assert httpx.get(f"{daemon.url}/fn/{fid}").status_code == 200
    report = cli.json("analytics", "function", fid, "--window", "1h")
    assert report["function_id"] == fid and report["invocations"] == 3
    expected = api_get(daemon, f"/api/functions/{fid}/analytics", window="1h")
    assert {k: v for k, v in report.items() if k not in ("to", "from")} == {
        k: v for k, v in expected.items() if k not in ("to", "from")
    }
    table = cli("analytics", "function", fid, "--window", "1h").out
    assert fid in table and "p95 ms" in table


def test_overview_lists_the_function(cli: Lunar, daemon: Daemon) -> None:
    fid = cli.create()["id"]
    assert httpx.get(f"{daemon.url}/fn/{fid}").status_code == 200
    report = cli.json("analytics", "overview")
    assert report["window"] == "24h"
    assert fid in [row["function_id"] for row in report["functions"]]
    assert "TOTAL" in cli("analytics", "overview").out


def test_query_takes_sql_inline_or_from_stdin(lunar: Lunar, cli: Lunar, daemon: Daemon) -> None:
    fid = cli.create()["id"]
    assert httpx.get(f"{daemon.url}/fn/{fid}").status_code == 200
    sql = f"SELECT count(*) AS n FROM executions WHERE function_id = '{fid}'"
    result = cli.json("analytics", "query", sql)
    assert result["rows"] == [[1]] and result["columns"][0]["name"] == "n"
    table = lunar("analytics", "query", "-", input=sql)
    assert table.code == 0, table.err
    assert "(1 row)" in table.out


def test_query_refusal_is_the_servers_400(cli: Lunar) -> None:
    result = cli("analytics", "query", "DELETE FROM executions")
    assert result.code == 1 and result.err.startswith("Error: 400: ")
