"""The daemon's log output on stderr: `text` (human lines) or `json` (one object per line).

JSON lines are for journald/Loki: `time` (RFC 3339, UTC, milliseconds), `level`, `logger`,
`message`, `exception` (the traceback, when there is one) and any structured extras the
caller passed with `extra={...}`. The access log (`lunard.access`) also gets `method`,
`path`, `status` and `duration_ms`.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName"}
)
_ACCESS_FIELDS = ("method", "path", "status", "duration_ms")


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    return str(value)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object without newlines (they are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        extras = {
            key: _jsonable(value)
            for key, value in vars(record).items()
            if key not in _STANDARD_ATTRS and not key.startswith("_")
        }
        if (
            record.name == "lunard.access"
            and not extras
            and isinstance(record.args, tuple)
            and len(record.args) == len(_ACCESS_FIELDS)
        ):
            # The access log's arguments are (method, path, status, milliseconds).
            method, path, status, elapsed = record.args
            extras = {
                "method": method,
                "path": path,
                "status": _jsonable(status),
                "duration_ms": round(elapsed, 1)
                if isinstance(elapsed, int | float)
                else _jsonable(elapsed),
            }
        for key, value in extras.items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))


def _level(name: str) -> int:
    name = name.upper()
    return logging.getLevelNamesMapping()["WARNING" if name == "WARN" else name]


def configure_logging(level: str, log_format: str = "text", stream: TextIO | None = None) -> None:
    """Send every logger's records to `stream` (stderr) at `level`, as text or JSON lines.

    In JSON mode Python warnings and uncaught exceptions also go through logging, so every
    line the daemon itself writes to stderr is one JSON object.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log_format must be one of {', '.join(LOG_FORMATS)}")
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(_level(level))
    if log_format == "json":
        logging.captureWarnings(True)
        sys.excepthook = _log_uncaught


def _log_uncaught(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)
        return
    logging.getLogger("lunard").critical(
        "uncaught exception: %s", "".join(traceback.format_exception_only(kind, value)).strip(),
        exc_info=(kind, value, tb),
    )
