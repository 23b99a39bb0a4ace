"""N real `lunard serve` nodes on loopback sharing one PostgreSQL (issue 15's cluster).

Every node gets the same `LUNARD_STATE_URL` and `LUNARD_RECORDS_URL` (a database of the
suite's throwaway server, `tests/pg.py`), the same admin key (`API_KEY`), its own data dir
and its own `LUNARD_NODE_ID` (`n1`, `n2`, ...). The first node starts alone, so it applies
the migrations; the others then start together (the migrations are idempotent under an
advisory lock anyway, this only keeps the start-up order readable in the logs).

`running_cluster` stops every node still alive at the end with SIGTERM, all at once, and
fails if one of them did not exit 0; a node the test killed itself is left out of that
check (its exit code is the test's business).
"""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.daemon import Daemon, start_daemon
from tests.haproxy import Server


@dataclass
class Cluster:
    """The running nodes, their names (`n1`...) and the shared database URL."""

    nodes: list[Daemon]
    names: list[str]
    url: str

    def servers(self) -> list[Server]:
        """One HAProxy `server` per node, named like the node."""
        return [Server(name, node.url) for name, node in zip(self.names, self.nodes, strict=True)]

    def others(self, index: int) -> list[Daemon]:
        """Every node but `nodes[index]`."""
        return [node for i, node in enumerate(self.nodes) if i != index]


def node_env(url: str, name: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of one cluster node."""
    return {
        "LUNARD_STATE_URL": url,
        "LUNARD_RECORDS_URL": url,
        "LUNARD_NODE_ID": name,
        **(extra or {}),
    }


def _start_rest(root: Path, url: str, names: list[str], env: dict[str, str]) -> list[Daemon]:
    """Start the nodes `names` concurrently; all of them, or none (the started are killed)."""
    results: dict[str, Daemon | BaseException] = {}

    def start(name: str) -> None:
        try:
            results[name] = start_daemon(root / name, env=node_env(url, name, env))
        except BaseException as exc:  # reported below, once every thread has ended
            results[name] = exc

    threads = [threading.Thread(target=start, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failures = [value for value in results.values() if isinstance(value, BaseException)]
    started = [value for value in results.values() if isinstance(value, Daemon)]
    if failures:
        for daemon in started:
            daemon.stop(signal.SIGKILL)
        raise failures[0]
    return [value for name in names if isinstance(value := results[name], Daemon)]


def stop_all(nodes: list[Daemon], timeout: float = 60.0) -> dict[int, int]:
    """SIGTERM to every node still running, then wait for them all; exit code by index."""
    alive = {i: node for i, node in enumerate(nodes) if node.proc.poll() is None}
    for node in alive.values():
        for client in node.clients:
            client.close()
        node.proc.send_signal(signal.SIGTERM)
    codes: dict[int, int] = {}
    for i, node in alive.items():
        try:
            codes[i] = node.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            node.proc.kill()
            codes[i] = node.proc.wait()
    return codes


@contextmanager
def running_cluster(
    root: Path, url: str, count: int = 3, env: dict[str, str] | None = None
) -> Iterator[Cluster]:
    """`count` nodes on the database `url`, data dirs under `root`; stopped at the end."""
    names = [f"n{i + 1}" for i in range(count)]
    extra = env or {}
    first = start_daemon(root / names[0], env=node_env(url, names[0], extra))
    nodes = [first]
    try:
        nodes += _start_rest(root, url, names[1:], extra)
    except BaseException:
        first.stop(signal.SIGKILL)
        raise
    try:
        yield Cluster(nodes, names, url)
    finally:
        codes = stop_all(nodes)  # only the nodes still running: not what the test killed
    bad = {names[i]: code for i, code in codes.items() if code != 0}
    assert not bad, f"nodes did not stop cleanly {bad}:\n" + "\n".join(
        nodes[names.index(name)].log()[-4000:] for name in bad
    )
