"""`make bench-cluster`: 1, 2 and 3 lunard nodes behind HAProxy on one PostgreSQL.

All on this machine (the same cores), so it shows the cost of the shared engine and of the
proxy, not the gain of more machines. Per setup, `/fn` hello and the KV counter + log line
(`bench.harness`) run under wrk (one thread, 16 connections, a few seconds each, after a
warm-up). The setups:
- one node on SQLite + DuckDB (today's default), called directly: the baseline;
- one node on PostgreSQL (state and records), called directly: the engine's cost;
- 1, 2 and 3 such nodes behind HAProxy (round robin, `/readyz` checks): the proxy's and
  the cluster's cost.
Then `kv.set` round trips as a worker makes them (`lunard.state.kv`, one autocommit
statement on the worker's connection) on SQLite and on PostgreSQL. The PostgreSQL server is
the test suite's throwaway one (`tests/pg.py`: fsync=off, synchronous_commit=off), so its
commits cost less than on a production server.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.harness import (
    COUNTER,
    HELLO,
    Process,
    WrkResult,
    create_function,
    free_port,
    start_lunard,
    wait_http,
    wrk,
)
from lunard.state.connection import connect_location
from lunard.state.kv import KeyValueTable
from tests.pg import PgServer, postgres_bin_dir, start_server, stop_server

SECONDS = 4
KV_OPS = 3000


def proxy_config(port: int, nodes: list[Process]) -> str:
    """HAProxy for the bench: like deploy/haproxy.cfg, without per-request logging."""
    servers = "\n".join(
        f"    server n{i + 1} {node.url.removeprefix('http://')} check"
        for i, node in enumerate(nodes)
    )
    return f"""
global
    maxconn 1024
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    retries 3
    option redispatch 1
listen lunard
    bind 127.0.0.1:{port}
    balance roundrobin
    http-reuse always
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 1s fall 2 rise 2
{servers}
"""


@contextmanager
def haproxy(nodes: list[Process], workdir: Path) -> Iterator[str]:
    """HAProxy in front of `nodes`; its URL."""
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    port = free_port()
    config = workdir / "haproxy.cfg"
    config.write_text(proxy_config(port, nodes))
    proc = subprocess.Popen([binary, "-db", "-f", str(config)], stdout=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/readyz")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def measure(label: str, url: str) -> list[WrkResult]:
    """`/fn` hello and KV counter + log line through `url`, after a warm-up each."""
    hello = f"{url}/fn/{create_function(url, 'bench-hello', HELLO)}"
    counter = f"{url}/fn/{create_function(url, 'bench-counter', COUNTER)}"
    results = []
    for name, target in (("hello", hello), ("kv+log", counter)):
        wrk("warm-up", target, seconds=1)
        results.append(wrk(f"{label}, {name}", target, seconds=SECONDS))
    return results


def cluster_env(url: str, index: int) -> dict[str, str]:
    return {"LUNARD_STATE_URL": url, "LUNARD_RECORDS_URL": url, "LUNARD_NODE_ID": f"n{index}"}


def run_setups(server: PgServer, workdir: Path) -> tuple[list[WrkResult], Path, str]:
    """Every setup's figures, the SQLite node's data dir and a PostgreSQL database the
    nodes migrated (for the kv.set bench)."""
    results: list[WrkResult] = []
    sqlite_dir = workdir / "sqlite"
    node = start_lunard(sqlite_dir)
    try:
        results += measure("1 node, SQLite+DuckDB, direct", node.url)
    finally:
        node.stop()
    pg_url = server.create_database()
    node = start_lunard(workdir / "pg-direct", cluster_env(pg_url, 1))
    try:
        results += measure("1 node, PostgreSQL, direct", node.url)
    finally:
        node.stop()
    for count in (1, 2, 3):
        url = server.create_database()
        with ExitStack() as stack:
            nodes = []
            for i in range(1, count + 1):
                nodes.append(start_lunard(workdir / f"c{count}-n{i}", cluster_env(url, i)))
                stack.callback(nodes[-1].stop)
            proxy = stack.enter_context(haproxy(nodes, workdir))
            label = f"{count} node{'s' if count > 1 else ''}, PostgreSQL, HAProxy"
            results += measure(label, proxy)
    return results, sqlite_dir, pg_url


def kv_set_micros(location: str) -> tuple[float, float]:
    """p50 and mean µs of `kv.set` on a worker's connection to `location`."""
    conn = connect_location(location)
    table = KeyValueTable("kv_store")
    times = []
    try:
        for i in range(KV_OPS):
            start = time.perf_counter()
            assert table.set(conn, "", f"bench-{i % 100}", f"value {i}")
            times.append((time.perf_counter() - start) * 1e6)
    finally:
        conn.close()
    return statistics.median(times), statistics.fmean(times)


def print_table(results: list[WrkResult], kv: dict[str, tuple[float, float]]) -> None:
    print(f"/fn under wrk (1 thread, 16 connections, {SECONDS} s each), this machine")
    print(f"{'setup, handler':50} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for r in results:
        print(f"{r.label:50} {r.rps:8.0f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} {r.errors:7d}")
    print()
    print(f"kv.set round trip on a worker's connection ({KV_OPS} sets)")
    print(f"{'backend':46} {'p50 µs':>8} {'mean µs':>8}")
    for name, (p50, mean) in kv.items():
        print(f"{name:46} {p50:8.0f} {mean:8.0f}")


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="lunard-bench-cluster-"))
    bin_dir = postgres_bin_dir()
    server = start_server(bin_dir, Path(tempfile.mkdtemp(prefix="lunard-bench-pg-")))
    try:
        results, sqlite_dir, pg_url = run_setups(server, workdir)
        kv = {
            "SQLite (WAL, synchronous=NORMAL)": kv_set_micros(str(sqlite_dir / "lunard.db")),
            "PostgreSQL TCP (fsync=off, sync_commit=off)": kv_set_micros(pg_url),
        }
    finally:
        stop_server(bin_dir, server)
        shutil.rmtree(workdir, ignore_errors=True)
    print_table(results, kv)


if __name__ == "__main__":
    main()
