"""Routes that move data out of and into a daemon (issue 14 part 4).

- `POST /api/admin/backup` `{"path": "/abs/dir"}` (admin key only): a consistent backup of
  the data dir written by the daemon into a new or empty directory on its own machine
  (`lunard.backup`). 409 when the directory is not empty.
- `GET /api/functions/{id}/export[?include_env=true]`: one function as a portable JSON
  document (`lunard.state.portable`), env vars only when asked for.
- `POST /api/functions/import`: such a document becomes a new function (201, the
  function's full view); a bad document is 400 naming the field (`versions[2].code: ...`).
  Every other method on that path is 405 `Allow: POST, OPTIONS` (RFC 9110 §15.5.6): the
  path is its own resource, never the function whose id would be `import`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from quart import Blueprint, Response, request
from werkzeug.exceptions import MethodNotAllowed

from lunard import backup
from lunard.errors import BadRequest, Forbidden, InternalError, Unauthorized, ValidationError
from lunard.http.auth import (
    AUTH_REQUIRED,
    COOKIE_NAME,
    is_admin_key,
    is_authenticated,
    require_auth,
)
from lunard.http.deps import deps
from lunard.http.notify import notify_scheduler
from lunard.http.responses import json_response, read_json_object
from lunard.state import functions as store
from lunard.state import portable
from lunard.state.functions import MAX_CONCURRENCY_LIMIT
from lunard.validation import (
    MAX_ENV_VARS,
    validate_code,
    validate_cron_schedule,
    validate_cron_status,
    validate_description,
    validate_env_key,
    validate_env_value,
    validate_name,
    validate_retention_days,
    validate_store_key,
    validate_store_value,
)

bp = Blueprint("portable", __name__)
INT64_MAX = 2**63 - 1  # SQLite's INTEGER: larger values are a 400, not an OverflowError

P = ParamSpec("P")
R = TypeVar("R")
ADMIN_REQUIRED = "This operation needs the admin key"
_TRUE = ("1", "true", "yes")
# Without a route of their own these would reach `/api/functions/<function_id>` (404).
IMPORT_OTHER_METHODS = ("GET", "PUT", "PATCH", "DELETE", "TRACE", "QUERY")
IMPORT_405_ENDPOINT = "portable.import_other_methods"


# --------------------------------------------------------------------------- admin


def _is_admin() -> bool:
    key = deps().api_key
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie and is_admin_key(cookie, key):
        return True
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    return scheme == "Bearer" and bool(credential) and is_admin_key(credential, key)


def require_admin(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Decorator: 401 without credentials, 403 with any credential but the admin key."""

    @wraps(handler)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if _is_admin():
            return await handler(*args, **kwargs)
        if await is_authenticated():
            raise Forbidden(ADMIN_REQUIRED)
        raise Unauthorized(AUTH_REQUIRED)

    return wrapper


@bp.post("/api/admin/backup")
@require_admin
async def take_backup() -> Response:
    """Write a backup of the data dir into `path`; answer `{"path", "manifest"}`."""
    body = await read_json_object()
    path = body.get("path")
    if not isinstance(path, str) or not path:
        raise BadRequest("path: a directory path on the server is required")
    d = deps()
    if d.sink is None:
        raise InternalError("Execution records are not available")
    document = await backup.take_backup(d.state, d.sink, Path(path))
    return json_response({"path": path, "manifest": document})


# --------------------------------------------------------------------------- export


@bp.get("/api/functions/<function_id>/export")
@require_auth
async def export_function(function_id: str) -> Response:
    """The function as a portable document; env vars with `?include_env=true` only."""
    include_env = request.args.get("include_env", "").lower() in _TRUE
    document = await deps().state.call(
        lambda conn: portable.export_function(conn, function_id, include_env=include_env)
    )
    return json_response(document)


@bp.route("/api/functions/import", methods=IMPORT_OTHER_METHODS)
async def import_other_methods() -> Response:
    """Only POST imports: 405 with the resource's own Allow, before authentication."""
    raise MethodNotAllowed(valid_methods=["POST", "OPTIONS"])


@bp.post("/api/functions/import")
@require_auth
async def import_function() -> Response:
    """Create a function from an export document; 201 with its full view."""
    doc = parse_document(await read_json_object())

    def create(conn: Any) -> dict[str, Any]:
        return store.get_function(conn, portable.import_function(conn, doc))

    created = await deps().state.call(create)
    notify_scheduler(created["id"])
    return json_response(created, 201)


# --------------------------------------------------------------------------- the document


@contextmanager
def _at(path: str) -> Iterator[None]:
    """Re-raise a ValidationError of the shared validators under the document's path."""
    try:
        yield
    except ValidationError as exc:
        message = exc.message.removeprefix(f"{exc.field}: ")
        raise BadRequest(f"{path}: {message}") from None


def _fail(path: str, message: str) -> BadRequest:
    return BadRequest(f"{path}: {message}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string(data: dict[str, Any], name: str, path: str, *, nullable: bool = False) -> str | None:
    value = data.get(name)
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise _fail(path, "must be a string" + (" or null" if nullable else ""))
    return value


def _string_map(value: Any, path: str) -> dict[str, str]:
    if value is None:  # null equals an absent field (the API's convention)
        return {}
    if not isinstance(value, dict):
        raise _fail(path, "must be an object of strings")
    for key, item in value.items():
        if not isinstance(item, str):
            raise _fail(f"{path}.{key}", "must be a string")
    return dict(value)


def parse_document(data: dict[str, Any]) -> portable.PortableFunction:
    """Check an import document field by field; BadRequest `<field path>: <problem>`."""
    version = data.get("format_version")
    if not _is_int(version) or version != portable.FORMAT_VERSION:
        raise _fail("format_version", f"must be {portable.FORMAT_VERSION}")
    _check_provenance(data)
    name = _string(data, "name", "name")
    assert name is not None
    with _at("name"):
        validate_name(name)
    description = _string(data, "description", "description", nullable=True)
    if description is not None:
        with _at("description"):
            validate_description(description)
    return portable.PortableFunction(
        name=name,
        description=description,
        settings=parse_settings(data.get("settings")),
        versions=parse_versions(data.get("versions")),
        kv=parse_kv(data.get("kv")),
        env_vars=None if data.get("env_vars") is None else parse_env(data["env_vars"]),
    )


def _check_provenance(data: dict[str, Any]) -> None:
    """Where the document came from: not used, but of the documented type unless null."""
    for name in ("lunard_version", "source_id"):
        if data.get(name) is not None and not isinstance(data[name], str):
            raise _fail(name, "must be a string or null")
    if data.get("exported_at") is not None and not _is_int(data["exported_at"]):
        raise _fail("exported_at", "must be Unix seconds (an integer) or null")


def parse_settings(value: Any) -> dict[str, Any]:
    """Every setting, defaulted as a new function's when absent; unknown keys refused."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise _fail("settings", "must be an object")
    for key in value:
        if key not in portable.SETTINGS:
            raise _fail(f"settings.{key}", "unknown setting")
    settings: dict[str, Any] = {
        "disabled": value.get("disabled", False),
        "retention_days": value.get("retention_days"),
        "cron_schedule": value.get("cron_schedule"),
        "cron_status": value.get("cron_status", "paused"),
        "save_response": value.get("save_response", False),
        "max_concurrency": value.get("max_concurrency"),
    }
    for flag in ("disabled", "save_response"):
        if not isinstance(settings[flag], bool):
            raise _fail(f"settings.{flag}", "must be a boolean")
    _check_optional(settings, "retention_days", int, validate_retention_days)
    _check_optional(settings, "cron_schedule", str, validate_cron_schedule)
    _check_optional(settings, "cron_status", str, validate_cron_status)
    limit = settings["max_concurrency"]
    if limit is not None and not (_is_int(limit) and 0 <= limit <= MAX_CONCURRENCY_LIMIT):
        raise _fail(
            "settings.max_concurrency", f"must be null or an integer 0..{MAX_CONCURRENCY_LIMIT}"
        )
    return settings


def _check_optional(
    settings: dict[str, Any], name: str, kind: type, check: Callable[[Any], None]
) -> None:
    value = settings[name]
    if value is None:
        return
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _fail(
            f"settings.{name}", f"must be null or a{'n integer' if kind is int else ' string'}"
        )
    with _at(f"settings.{name}"):
        check(value)


def parse_versions(value: Any) -> tuple[portable.PortableVersion, ...]:
    """At least one version, numbers unique and positive, code valid, exactly one active."""
    if not isinstance(value, list) or not value:
        raise _fail("versions", "must be a non-empty list")
    versions = tuple(_parse_version(item, f"versions[{i}]") for i, item in enumerate(value))
    seen: set[int] = set()
    for i, version in enumerate(versions):
        if version.version in seen:
            raise _fail(f"versions[{i}].version", f"version {version.version} appears twice")
        seen.add(version.version)
    if sum(v.is_active for v in versions) != 1:
        raise _fail("versions", "exactly one version must have is_active true")
    return versions


def _parse_version(item: Any, path: str) -> portable.PortableVersion:
    if not isinstance(item, dict):
        raise _fail(path, "must be an object")
    number = item.get("version")
    if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= INT64_MAX:
        raise _fail(f"{path}.version", "must be a positive integer")
    code = _string(item, "code", f"{path}.code")
    assert code is not None
    with _at(f"{path}.code"):
        validate_code(code)
    created_at = item.get("created_at", 0)
    if not _is_int(created_at) or not 0 <= created_at <= INT64_MAX:
        raise _fail(f"{path}.created_at", "must be Unix seconds (a non-negative integer)")
    created_by = _string(item, "created_by", f"{path}.created_by", nullable=True)
    active = item.get("is_active", False)
    if not isinstance(active, bool):
        raise _fail(f"{path}.is_active", "must be a boolean")
    return portable.PortableVersion(number, code, created_at, created_by, active)


def parse_kv(value: Any) -> dict[str, str]:
    """The function-scope KV entries, checked as `POST .../kv` checks them."""
    entries = _string_map(value, "kv")
    for key, item in entries.items():
        with _at(f"kv.{key}"):
            validate_store_key(key)
            validate_store_value(item)
    return entries


def parse_env(value: Any) -> dict[str, str]:
    """Env vars, checked as `PUT .../env` checks them."""
    env = _string_map(value, "env_vars")
    if len(env) > MAX_ENV_VARS:
        raise _fail("env_vars", f"cannot have more than {MAX_ENV_VARS} environment variables")
    for key, item in env.items():
        with _at(f"env_vars.{key}"):
            validate_env_key(key)
            validate_env_value(item)
    return env
