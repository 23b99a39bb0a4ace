"""Our exception hierarchy. Boundaries raise these; `lunard.http.errors` maps them to HTTP.

Callers catch `LunardError` (or a subclass); every message is meant for the person who sent
the request (or, for the start-up errors, the operator), so it says what was wrong and,
where it helps, what to do. A class's `status` is its HTTP answer (`{"error": message}`);
the start-up errors never reach HTTP and decide the exit code of `lunard serve` instead
(`lunard.stop_status`).

    LunardError                  500  base; `status` and `message`
    ├── ConfigError              —    an invalid setting: exit 2 before start; a busy port
    │                                 at start: exit 1 ("cannot start: ...")
    ├── DataDirError             —    DATA_DIR unusable or a corrupt database: exit 1
    ├── WorkerBootError          —    workers cannot start, N times in a row: exit 3
    ├── BadRequest               400
    │   ├── ValidationError      400  `<field>: <message>`
    │   └── backup.BackupError   400  a backup/restore that cannot be done as asked
    │       └── backup.TargetNotEmpty  409  the backup directory holds files
    ├── Unauthorized             401
    ├── Forbidden                403
    ├── NotFound                 404
    ├── http.auth_routes.TokenCollected  410  a device code's token was already handed out
    ├── PayloadTooLarge          413
    ├── Throttled                429
    ├── Overloaded               503  with Retry-After
    └── InternalError            500  a failure on our side, with a message safe to show
        ├── StorageError         500  the state store or the record sink failed
        └── worker_process.WorkerStartError  500  one worker did not come up

(`backup.BackupError` derives from `LunardError` directly today; it answers 400 like
`BadRequest`.) Every other exception class in `lunard/` stays outside the tree, each for a
reason:

- `stop_status.ActorCrashed`: the supervisor's wrapper of an actor's crash (the cause is the
  real error); read only by `stop_status`, never crosses HTTP.
- `transactions.SchemaTooNew`: raised while opening a database; the sink and the state store
  turn it into a `DataDirError` with advice.
- `state.errors.StateError`: a state database driver's failure (sqlite3 or psycopg), neutral
  across backends; callers that expect one catch it (the scheduler logs and retries), any
  other reaches the recovery layer as a logged 500, like the `sqlite3.Error` it replaces.
- `cron.CronError` (ValueError): the cron parser's result, caught right where it is called
  (the functions API answers `BadRequest`, the scheduler logs and skips the schedule).
- `gojson.UnsupportedValue`, `gojson.DecodeError` (ValueError): the Go-compatible JSON codec's
  errors, used like `json`'s (ValueError on purpose); its callers in the worker turn them
  into Lua errors.
- `records.sql_sandbox.QueryError`: an ad-hoc SQL query's failure with its `kind`; the
  analytics API maps each kind to its status.
- `records.sql_runner._TooBig` (ValueError): internal control flow in the sandbox protocol.
- `records.cli.CliError`, `backup_cli.CliError`, `migrate_state.MigrateError`: offline
  commands; printed with exit code 1.
- `golang.AtoiError` (ValueError): Go's strconv.Atoi failure text, turned by its callers into
  a `BadRequest` (version numbers) or a `CronError`.
- `client.errors.ClientError` and its subclasses (`ConnectionFailed`, `ApiError`,
  `BadResponse`, `LoginFailed`, `ConfigFileError`): the `lunar` client's click exceptions,
  in another process.
- `worker_process.CallTimedOut`, `worker_process.WorkerLost`: internal control flow between a
  worker process and the pool, which turns them into the call's outcome.
- Worker side (another process; they end up as Lua errors, never as exceptions here):
  `worker.modules.errors.HostError` / `ArgumentError` (a host call fails with the Lua error
  text), `worker.modules.outbound.OutboundError` / `RequestError` / `TransportError` /
  `BodyError`, `worker.modules.ai.ChatError`, `worker.modules.email.SendError` (the `err`
  Lua receives), `worker.modules.gotime_parse.ParseError` and `_Bad`, `worker.modules.url.URLError`
  (Go's messages), `worker.runtime._ExecutionError` (the handler's result cannot be
  converted).
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
