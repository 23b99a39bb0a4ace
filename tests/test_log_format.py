"""log_format = "json": one JSON object per line on stderr (journald, Loki)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from lunard.logs import JsonFormatter, configure_logging
from tests.daemon import start_daemon


def _record(
    name: str, msg: str, *args: object, extra: dict[str, object] | None = None
) -> logging.LogRecord:
    logger = logging.getLogger(name)
    return logger.makeRecord(name, logging.INFO, __file__, 1, msg, args, None, extra=extra)


def test_formatter_keys_extras_and_exceptions() -> None:
    fmt = JsonFormatter()
    entry = json.loads(fmt.format(_record("lunard.x", "hello %s\nworld", "there")))
    assert entry["message"] == "hello there\nworld"
    assert (entry["level"], entry["logger"]) == ("INFO", "lunard.x")
    assert entry["time"].endswith("Z") and "T" in entry["time"]

    extra = _record("lunard.x", "m", extra={"function_id": "abc", "path": Path("/p")})
    assert json.loads(fmt.format(extra))["function_id"] == "abc"
    assert json.loads(fmt.format(extra))["path"] == "/p"

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        failed = logging.getLogger("lunard.x").makeRecord(
            "lunard.x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    line = fmt.format(failed)
    assert "\n" not in line
    entry = json.loads(line)
    assert "RuntimeError: boom" in entry["exception"]
    assert "Traceback" in entry["exception"]


def test_access_log_fields() -> None:
    line = JsonFormatter().format(
        _record("lunard.access", "%s %s %s %.1fms", "GET", "/fn/x", 200, 12.345)
    )
    entry = json.loads(line)
    assert entry["message"] == "GET /fn/x 200 12.3ms"
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/fn/x", 200)
    assert entry["duration_ms"] == 12.3


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)
    import sys

    sys.excepthook = sys.__excepthook__


def test_configure_logging_json_and_text(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("warn", "json", stream=out)
    logging.getLogger("lunard.t").info("hidden")
    logging.getLogger("lunard.t").warning("shown %d", 1)
    import warnings

    warnings.warn("deprecated thing", DeprecationWarning, stacklevel=1)
    lines = out.getvalue().splitlines()
    entries = [json.loads(line) for line in lines]
    assert entries[0]["message"] == "shown 1"
    assert any("deprecated thing" in e["message"] for e in entries)

    text = io.StringIO()
    configure_logging("INFO", "text", stream=text)
    logging.getLogger("lunard.t").info("plain")
    assert text.getvalue().rstrip().endswith("INFO lunard.t: plain")
    with pytest.raises(ValueError):
        configure_logging("INFO", "xml")


@pytest.mark.parametrize("how", ["env", "flag"])
def test_daemon_stderr_is_one_json_object_per_line(tmp_path: Path, how: str) -> None:
    daemon = start_daemon(
        tmp_path / "data",
        env={"LUNARD_LOG_FORMAT": "json"} if how == "env" else None,
        args=["--log-format", "json"] if how == "flag" else None,
    )
    with daemon.client() as api:
        assert api.get("/healthz").status_code == 200
        assert api.get("/api/functions/does-not-exist").status_code == 404
    assert daemon.stop() == 0
    lines = [line for line in daemon.log().splitlines() if line.strip()]
    assert lines
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}")
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    access = [r for r in records if r["logger"] == "lunard.access"]
    assert any(
        r["method"] == "GET" and r["path"] == "/healthz" and r["status"] == 200 for r in access
    )
    assert any(r["path"] == "/api/functions/does-not-exist" and r["status"] == 404 for r in access)
    assert all(isinstance(r["duration_ms"], float) for r in access)
    assert any("lunard ready url=" in r["message"] for r in records)
