"""The systemd units: hardened (systemd-analyze security ≤ 2.0), valid, and still right.

`systemd-analyze verify` also checks that ExecStart's binary exists, and
/opt/lunard/.venv/bin/lunard does not on a development machine. So verify runs on a copy of
the units in a temp dir whose ExecStart names an executable that does exist (/bin/true);
every other line is the shipped unit's. The score needs no such copy, but it is taken from
the same copy so both checks read the same file.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT_DIR = Path(__file__).resolve().parent.parent / "systemd"
SERVICE = UNIT_DIR / "lunard.service"
SOCKET = UNIT_DIR / "lunard.socket"
MAX_EXPOSURE = 2.0
SHIPPED_EXEC = "/opt/lunard/.venv/bin/lunard"
OVERALL = re.compile(r"Overall exposure level for \S+: (\d+(?:\.\d+)?) ")

ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    ANALYZE is None, reason="systemd-analyze is not installed (it comes with systemd)"
)


def directives(path: Path) -> dict[str, list[str]]:
    """Every `Key=value` of a unit file, all values of repeated keys in order."""
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        found.setdefault(key.strip(), []).append(value.strip())
    return found


def last(found: dict[str, list[str]], key: str) -> str | None:
    values = found.get(key)
    return values[-1] if values else None


@pytest.fixture
def unit_copy(tmp_path: Path) -> Path:
    """The service and socket in tmp_path, ExecStart pointed at an existing executable."""
    true = shutil.which("true") or "/bin/true"
    text = SERVICE.read_text()
    assert f"ExecStart={SHIPPED_EXEC} " in text, "ExecStart changed: update this test"
    (tmp_path / SERVICE.name).write_text(text.replace(SHIPPED_EXEC, true, 1))
    shutil.copy(SOCKET, tmp_path / SOCKET.name)
    return tmp_path / SERVICE.name


def run_analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run([ANALYZE, *args], capture_output=True, text=True, timeout=60, check=False)


@needs_analyze
def test_units_verify_without_errors(unit_copy: Path) -> None:
    result = run_analyze("verify", str(unit_copy), str(unit_copy.with_suffix(".socket")))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # verify reports unknown directives and bad values as warnings with exit status 0.
    relevant = [line for line in output.splitlines() if "lunard" in line]
    assert relevant == [], output


@needs_analyze
def test_security_exposure_is_at_most_two(unit_copy: Path) -> None:
    result = run_analyze("security", "--offline=yes", "--no-pager", str(unit_copy))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    match = OVERALL.search(output)
    assert match is not None, f"no overall exposure line in:\n{output}"
    assert float(match.group(1)) <= MAX_EXPOSURE, output


def test_service_key_facts() -> None:
    unit = directives(SERVICE)
    assert last(unit, "Type") == "notify"
    assert last(unit, "NotifyAccess") == "main"
    watchdog = last(unit, "WatchdogSec")
    assert watchdog is not None and int(watchdog) > 0
    # LuaJIT's JIT needs writable+executable memory: MDWE would kill every worker.
    assert last(unit, "MemoryDenyWriteExecute") in (None, "no", "false", "0", "off")
    # DuckDB's jemalloc reads /proc/sys/vm/overcommit_memory: the analytics memory limit
    # only answers with its memory error when it can (see the unit's comment).
    assert last(unit, "ProcSubset") in (None, "all")
    assert last(unit, "StateDirectory") == "lunard"
    assert last(unit, "RuntimeDirectory") == "lunard"
    assert "DATA_DIR=/var/lib/lunard" in unit.get("Environment", [])
    assert (last(unit, "ExecStart") or "").startswith(f"{SHIPPED_EXEC} serve ")


def test_sandbox_keeps_what_lunard_needs() -> None:
    unit = directives(SERVICE)
    families = " ".join(unit.get("RestrictAddressFamilies", [])).split()
    # AF_UNIX: worker ipc sockets and sd_notify; AF_INET(6): listener and outbound HTTP.
    assert {"AF_UNIX", "AF_INET", "AF_INET6"} <= set(families)
    assert not any(f.startswith("~") for f in families)
    assert last(unit, "PrivateNetwork") in (None, "no", "false")
    # Outbound HTTP from functions: an IP deny list is opt-in (comments only).
    assert "IPAddressDeny" not in unit
    filters = unit.get("SystemCallFilter", [])
    assert filters and filters[0] == "@system-service"
    # setrlimit() goes through prlimit64 (@default); @resources must not be needed back.
    assert all("@default" not in f.split() for f in filters if f.startswith("~"))
    assert last(unit, "SystemCallErrorNumber") == "EPERM"
    assert last(unit, "UMask") == "0077"
    assert unit.get("CapabilityBoundingSet") == [""]
