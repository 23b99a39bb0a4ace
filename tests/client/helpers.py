"""Run the installed `lunar` entry point as a subprocess, isolated from the user's setup."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LUNAR = Path(sys.executable).with_name("lunar")
HELLO = """function handler(ctx, event)
  log.info("hello " .. event.method)
  log.warn("careful")
  return { statusCode = 200, body = "ok" }
end
"""


def clean_env(config_home: Path, **extra: str) -> dict[str, str]:
    """The test process's environment without LUNAR_* and with a private config dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUNAR_")}
    for name in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(name, None)
    env["XDG_CONFIG_HOME"] = str(config_home)
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


@dataclass(frozen=True)
class Result:
    """Exit code and output of one `lunar` run."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout parsed as JSON (the run must have succeeded)."""
        assert self.code == 0, f"exit {self.code}: {self.err}"
        return json.loads(self.out)


@dataclass
class Lunar:
    """`lunar` with a fixed environment (server, token, config dir).

    By default each call runs the installed entry point as a subprocess; with
    `in_process`, Click's CliRunner calls the same command tree (no interpreter start-up:
    used where a subprocess adds nothing, to keep the suite fast).
    """

    env: dict[str, str]
    in_process: bool = False

    def __call__(self, *args: str, input: str | None = None, timeout: float = 60) -> Result:
        if self.in_process:
            return self._run_in_process(list(args), input)
        proc = subprocess.run(
            [str(LUNAR), *args],
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def _run_in_process(self, args: list[str], input: str | None) -> Result:
        from click.testing import CliRunner

        from lunard.client.cli import cli

        # The runner patches os.environ: drop the test process's own settings too.
        env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("LUNAR_")}
        env.update(self.env)
        result = CliRunner().invoke(cli, args, input=input, env=env, catch_exceptions=False)
        return Result(result.exit_code, result.stdout, result.stderr)

    def runner(self) -> Lunar:
        """The same CLI, called in-process."""
        return Lunar(self.env, in_process=True)

    def json(self, *args: str, input: str | None = None) -> Any:
        """Run with `--output json` and parse stdout."""
        return self("--output", "json", *args, input=input).json()

    def create(self, code: str = HELLO, name: str | None = None) -> dict[str, Any]:
        """A new uniquely named function, through the CLI."""
        name = name or f"fn-{uuid.uuid4().hex[:8]}"
        created: dict[str, Any] = self.json("functions", "create", "--name", name, "--code", code)
        return created
