"""Three lunard nodes behind a real HAProxy, sharing one PostgreSQL (issue 15 item 7).

The nodes (`tests/cluster.py`) share `state_url` and `records_url` on the suite's throwaway
PostgreSQL, with one admin key and separate data dirs; HAProxy (`tests/haproxy.py`) balances
round robin and checks `/readyz` every 100 ms (`fall 2`). The suite shows: an execution
made through the proxy is listed by every node right after its answer, and an update is
what every node runs next; `kill -9` of a node under load fails only calls that node was
running and loses no acknowledged execution; SIGTERM of a node under load fails nothing.
It also checks the samples in `deploy/`: HAProxy accepts `deploy/haproxy.cfg` (and the
read-after-write test runs behind that very file, its server lines swapped for the nodes),
and `deploy/kubernetes.yaml` has the probes, environment and grace period it promises.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from lunard.config import UPSTREAM_ENV
from tests.cluster import Cluster, running_cluster
from tests.haproxy import (
    Load,
    Proxy,
    config_from_sample,
    free_port,
    haproxy_binary,
    haproxy_config,
    run_haproxy,
    wait_for,
)
from tests.http.helpers import create

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
DRAIN_DELAY = 1.5  # > HAProxy's detection time: inter 100 ms x fall 2
SHUTDOWN_GRACE = 30.0
CLIENTS = 6  # load connections through the proxy, one request outstanding on each
HANDLER = """
function handler(ctx, event)
  kv.set("last", ctx.executionId)
  log.info("run %s " .. ctx.executionId)
  return {statusCode = 200, body = "%s"}
end
"""


@pytest.fixture
def cluster(pg_url: str, tmp_path: Path) -> Iterator[Cluster]:
    env = {
        "LUNARD_WORKERS": "1",
        "LUNARD_DRAIN_DELAY": str(DRAIN_DELAY),
        "LUNARD_SHUTDOWN_GRACE": str(SHUTDOWN_GRACE),
    }
    with running_cluster(tmp_path / "nodes", pg_url, 3, env) as running:
        yield running


@pytest.fixture
def proxy(cluster: Cluster, tmp_path: Path) -> Iterator[Proxy]:
    """The test configuration (fast checks, redispatch) in front of the three nodes."""
    config = haproxy_config(free_port(), cluster.servers(), redispatch=True)
    with run_haproxy(config, tmp_path) as running:
        running.wait_served_by("/healthz", set(cluster.names))
        yield running


def admin(url: str, api_key: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30)


def listed_ids(api: httpx.Client, function_id: str) -> list[str]:
    """Every execution of the function as one node lists it (all pages)."""
    ids: list[str] = []
    while True:
        page = api.get(
            f"/api/functions/{function_id}/executions", params={"limit": 100, "offset": len(ids)}
        )
        assert page.status_code == 200, page.text
        batch = [execution["id"] for execution in page.json()["executions"]]
        ids += batch
        if not batch:
            return ids


def test_reads_after_writes_across_nodes_behind_the_deploy_sample(
    cluster: Cluster, tmp_path: Path
) -> None:
    sample = (DEPLOY / "haproxy.cfg").read_text()
    with run_haproxy(config_from_sample(sample, free_port(), cluster.servers()), tmp_path) as lb:
        lb.wait_served_by("/healthz", set(cluster.names))
        key = cluster.nodes[0].api_key
        with admin(lb.url, key) as through, httpx.Client(base_url=lb.url, timeout=30) as caller:
            fid = create(through, HANDLER % ("v1", "v1"))["id"]
            apis = [node.client() for node in cluster.nodes]
            served_by = set()
            for i in range(18):
                answer = caller.post(f"/fn/{fid}")
                assert answer.status_code == 200, answer.text
                assert answer.text == "v1"
                served_by.add(answer.headers["x-served-by"])
                eid = answer.headers["X-Execution-Id"]
                for api in apis:  # right after the answer: no retry, no wait
                    listed = api.get(f"/api/functions/{fid}/executions", params={"limit": 1})
                    assert listed.status_code == 200, listed.text
                    assert listed.json()["executions"][0]["id"] == eid
                    assert listed.json()["pagination"]["total"] == i + 1
                logs = apis[i % 3].get(f"/api/executions/{eid}/logs").json()["logs"]
                assert [line["message"] for line in logs] == [f"run v1 {eid}"]
            assert served_by == set(cluster.names)  # the sample balanced over every node

            # An update through the proxy (one node) is what every node runs next.
            updated = through.put(f"/api/functions/{fid}", json={"code": HANDLER % ("v2", "v2")})
            assert updated.status_code == 200, updated.text
            after = [caller.post(f"/fn/{fid}") for _ in range(6)]
    assert {(answer.status_code, answer.text) for answer in after} == {(200, "v2")}
    assert {answer.headers["x-served-by"] for answer in after} == set(cluster.names)


def run_load_until(load: Load, condition: Any, timeout: float = 30.0) -> None:
    """Wait (bounded) while the load runs; failures are the test's to count."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{len(load.served)} responses so far"
        time.sleep(0.02)  # leave the GIL to the load threads


def test_kill_9_of_a_node_under_load_fails_only_its_calls_and_loses_no_answer(
    cluster: Cluster, proxy: Proxy
) -> None:
    fid = create(cluster.nodes[0].client(), HANDLER % ("k", "ok"))["id"]
    load = Load(f"{proxy.url}/fn/{fid}", method="POST")
    load.start(CLIENTS)
    victim, name = cluster.nodes[1], cluster.names[1]
    try:
        run_load_until(load, lambda: min(load.count(n) for n in cluster.names) >= 30)
        assert load.failed() == [] and load.errors == []  # nothing fails before the kill
        killed_at = time.monotonic()
        victim.proc.send_signal(signal.SIGKILL)
        assert victim.proc.wait(timeout=10) == -signal.SIGKILL
        # The others keep serving: 100 more answers each after the kill.
        run_load_until(
            load, lambda: all(load.count(n, killed_at) >= 100 for n in cluster.names if n != name)
        )
    finally:
        load.finish()

    failed = load.failed()
    failures = len(failed) + len(load.errors)
    # Only the dead node's calls fail, and only the ones it was running. A failure is a
    # non-2xx answer (HAProxy's 502 for a request the node had, labelled with the node) or
    # no answer at all (HAProxy's silent close when the request went out on a reused
    # keep-alive connection to the node). Bound: failures <= CLIENTS. Each of the CLIENTS
    # connections has at most one request outstanding, so at most CLIENTS calls were in
    # flight on the node when it died; the requests HAProxy sends it after the kill, before
    # two failed checks (~200 ms) mark it down, meet a closed port and are redispatched to a
    # live node (`retries` + `option redispatch`), so they add no failure.
    summary = f"{failures} failed of {len(load.served) + len(load.errors)}: {failed} {load.errors}"
    assert {server for _, _, server in failed} <= {name}, summary
    assert all(at >= killed_at for at, _, _ in failed), summary
    assert all(at >= killed_at for at in load.error_at), summary
    assert failures <= CLIENTS, summary
    assert f"Server fn/{name} is DOWN" in proxy.log()
    print(summary)  # the figure, for `pytest -s`

    # No acknowledged execution is lost: every 2xx answer's id is in the records, read
    # through a surviving node, including the ones the dead node answered.
    acknowledged = load.executions
    assert len(acknowledged) == len(load.served) - len(failed)
    listed = listed_ids(cluster.nodes[2].client(), fid)
    assert set(acknowledged) <= set(listed)
    assert len(listed) == len(set(listed))
    # At most the calls in flight at the kill may have a record without an answer.
    assert len(listed) - len(acknowledged) <= CLIENTS


def test_sigterm_of_a_node_under_load_fails_nothing(cluster: Cluster, proxy: Proxy) -> None:
    fid = create(cluster.nodes[0].client(), HANDLER % ("t", "ok"))["id"]
    load = Load(f"{proxy.url}/fn/{fid}", method="POST")
    load.start(CLIENTS)
    stopping, name = cluster.nodes[1], cluster.names[1]
    try:
        wait_for(lambda: min(load.count(n) for n in cluster.names) >= 30, load)
        stopping.proc.send_signal(signal.SIGTERM)
        # It exits well before its grace: the drain delay plus a few seconds at most.
        assert stopping.proc.wait(timeout=DRAIN_DELAY + SHUTDOWN_GRACE / 2) == 0
        exited_at = time.monotonic()
        others = [n for n in cluster.names if n != name]
        wait_for(lambda: all(load.count(n, exited_at) >= 50 for n in others), load)
    finally:
        load.finish()

    assert load.errors == []
    assert load.failed() == []
    assert load.count(name, exited_at) == 0
    log = stopping.log()
    assert "Draining: /readyz answers 503" in log
    assert "Server stopped gracefully" in log
    listed = listed_ids(cluster.nodes[0].client(), fid)
    assert sorted(listed) == sorted(load.executions)  # every call answered and recorded


def test_the_haproxy_sample_is_valid() -> None:
    sample = DEPLOY / "haproxy.cfg"
    checked = subprocess.run(
        [haproxy_binary(), "-c", "-f", str(sample)], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Configuration file is valid" in checked.stdout
    lines = [line.split("#")[0].strip() for line in sample.read_text().splitlines()]
    assert "option httpchk GET /readyz" in lines
    assert "http-check expect status 200" in lines
    assert "option redispatch 1" in lines
    servers = [line for line in lines if line.startswith("server ")]
    assert len(servers) >= 2 and all(line.endswith(" check") for line in servers)


def manifest() -> dict[str, dict[str, Any]]:
    """deploy/kubernetes.yaml's documents by kind."""
    documents = list(yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text()))
    by_kind = {document["kind"]: document for document in documents}
    assert len(by_kind) == len(documents)
    return by_kind


def container_env(secret: dict[str, Any], container: dict[str, Any]) -> dict[str, str]:
    """The container's environment with the Secret's values filled in (not fieldRefs)."""
    env: dict[str, str] = {}
    for entry in container["env"]:
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        elif "secretKeyRef" in entry["valueFrom"]:
            ref = entry["valueFrom"]["secretKeyRef"]
            assert ref["name"] == secret["metadata"]["name"]
            env[entry["name"]] = secret["stringData"][ref["key"]]
    return env


def test_the_kubernetes_manifest_has_its_probes_env_and_grace(tmp_path: Path) -> None:
    docs = manifest()
    assert set(docs) == {"Secret", "Deployment", "Service", "PodDisruptionBudget"}
    deployment, secret = docs["Deployment"], docs["Secret"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert docs["Service"]["spec"]["selector"] == labels
    assert docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == labels
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 3000}]
    assert docs["Service"]["spec"]["ports"][0]["targetPort"] == "http"

    env = container_env(secret, container)
    secret_refs = {
        entry["name"] for entry in container["env"] if "secretKeyRef" in entry.get("valueFrom", {})
    }
    assert {"API_KEY", "LUNARD_STATE_URL", "LUNARD_RECORDS_URL"} <= secret_refs
    grace = pod["terminationGracePeriodSeconds"]
    assert grace >= float(env["LUNARD_DRAIN_DELAY"]) + float(env["LUNARD_SHUTDOWN_GRACE"]) + 5
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    assert "emptyDir" in volumes[mounts[env["LUNARD_RUNTIME_DIR"]]]
    assert "emptyDir" in volumes[mounts[env["DATA_DIR"]]]

    # Every variable is a lunard setting that `lunard check-config` takes from the env.
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LUNARD_", "NOTIFY_"))}
    for name in UPSTREAM_ENV.values():  # API_KEY, DATA_DIR, HOST, PORT...
        clean.pop(name, None)
    settings_env = {k: v for k, v in env.items() if k != "PGPASSWORD"}
    settings_env["DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run(
        [sys.executable, "-m", "lunard", "check-config", "--json"],
        env={**clean, **settings_env, "LUNARD_NODE_ID": "lunard-0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["valid"] is True
    from_env = {name for name, item in report["settings"].items() if item["source"] == "env"}
    assert len(from_env) == len(settings_env) + 1  # + the node id (a fieldRef in the pod)
    assert report["settings"]["drain_delay"]["value"] == 5.0
    assert report["settings"]["host"]["value"] == "0.0.0.0"
