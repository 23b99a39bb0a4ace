"""Our exception hierarchy. Boundaries raise these; `lunard.http.errors` maps them to HTTP.

Callers catch `LunardError` (or a subclass); every message is meant for the person who sent
the request, so it says what was wrong and, where it helps, what to do.
"""

from __future__ import annotations


class LunardError(Exception):
    """Base of every error lunard raises on purpose."""

    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(LunardError):
    """A setting is invalid; start-up stops with a message naming the setting."""


class DataDirError(LunardError):
    """DATA_DIR is missing, unwritable or holds a corrupt database; start-up stops."""


class BadRequest(LunardError):
    """The request is malformed (400)."""

    status = 400


class ValidationError(BadRequest):
    """A field failed validation; renders as `<field>: <message>` like upstream."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class Unauthorized(LunardError):
    """No valid credentials (401)."""

    status = 401


class Forbidden(LunardError):
    """Valid request for something that may not run now, e.g. a disabled function (403)."""

    status = 403


class NotFound(LunardError):
    """The addressed resource does not exist (404)."""

    status = 404


class PayloadTooLarge(LunardError):
    """A request body past the configured cap (413)."""

    status = 413


class Throttled(LunardError):
    """The function's own concurrency setting forbids the run now (429, like Lambda's
    `TooManyRequests` for a function whose reserved concurrency is 0)."""

    status = 429


class Overloaded(LunardError):
    """The execution queue, or this function's share of it, is full; retry later (503 with
    Retry-After)."""

    status = 503

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InternalError(LunardError):
    """A failure on our side with a message safe to show (500)."""

    status = 500


class StorageError(InternalError):
    """The state store or the record sink failed."""


class WorkerBootError(LunardError):
    """Worker processes failed to start too many times in a row (gunicorn's
    WORKER_BOOT_ERROR): the daemon stops with exit code `exit_code`, since retrying forever
    would only hide a broken installation (missing LuaJIT, unusable Python, full disk)."""

    exit_code = 3
