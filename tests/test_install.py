"""`make install` / `make uninstall` into a staging root (DESTDIR): real make, venv and pip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "/opt/lunard"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def make(target: str, destdir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LUNARD_", "MAKE"))}
    # systemctl must never be called: a fake one on PATH would leave a trace.
    fake_bin = destdir.parent / "fake-bin"
    fake_bin.mkdir(exist_ok=True)
    systemctl = fake_bin / "systemctl"
    systemctl.write_text(f"#!/bin/sh\necho called >> {destdir.parent / 'systemctl-called'}\n")
    systemctl.chmod(0o755)
    env["PATH"] = f"{fake_bin}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        ["make", "-C", str(ROOT), "--no-print-directory", target, f"DESTDIR={destdir}",
         f"PREFIX={PREFIX}", f"PYTHON={sys.executable}", *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (destdir.parent / "systemctl-called").exists()
    return result


def run(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUNARD_")}
    for name in ("PORT", "HOST", "DATA_DIR", "API_KEY", "BASE_URL", "EXECUTION_TIMEOUT"):
        env.pop(name, None)
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def test_install_check_config_and_uninstall(tmp_path: Path) -> None:
    stage = tmp_path / "stage"
    result = make("install", stage)
    assert "Nothing was started" in result.stdout

    venv = stage / PREFIX.lstrip("/")
    units = stage / "etc/systemd/system"
    config = stage / "etc/lunard/lunard.toml"
    assert (venv / "pyvenv.cfg").is_file()
    assert {p.name for p in units.iterdir()} == {"lunard.service", "lunard.socket"}

    # The units are the checkout's, with only ExecStart pointing at the prefix's lunard.
    source = (ROOT / "systemd/lunard.service").read_text().splitlines()
    installed = (units / "lunard.service").read_text().splitlines()
    assert len(installed) == len(source)
    changed = [(a, b) for a, b in zip(source, installed, strict=True) if a != b]
    exec_start = [line for line in installed if line.startswith("ExecStart=")]
    assert exec_start == [f"ExecStart={PREFIX}/bin/lunard serve --config /etc/lunard/lunard.toml"]
    assert all(b.startswith("ExecStart=") for _, b in changed)
    assert (units / "lunard.socket").read_text() == (ROOT / "systemd/lunard.socket").read_text()
    assert config.read_text() == (ROOT / "config/lunard.toml").read_text()

    # lunard runs from the venv, installed (not editable) from the checkout; run it from
    # elsewhere so the checkout cannot shadow it.
    help_result = run(venv / "bin/lunard", "--help", cwd=tmp_path)
    assert help_result.returncode == 0, help_result.stderr
    assert "check-config" in help_result.stdout
    where = run(venv / "bin/python", "-c", "import lunard; print(lunard.__file__)", cwd=tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(venv / "lib")
    assert not list(venv.glob("lib/python*/site-packages/__editable__*"))
    assert run(venv / "bin/lunar", "--help", cwd=tmp_path).returncode == 0

    checked = run(venv / "bin/lunard", "check-config", "--config", config, "--json", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    settings = json.loads(checked.stdout)["settings"]
    assert settings["port"] == {"value": 3000, "source": "file"}
    assert settings["log_format"] == {"value": "text", "source": "file"}

    # A second install upgrades the venv but keeps an edited configuration.
    config.write_text("port = 8080\n")
    again = make("install", stage)
    assert "exists, kept" in again.stdout
    assert config.read_text() == "port = 8080\n"

    make("uninstall", stage)
    assert not venv.exists()
    assert not list(units.iterdir())
    assert config.read_text() == "port = 8080\n"  # kept without PURGE=1

    make("uninstall", stage, "PURGE=1")
    assert not config.parent.exists()
