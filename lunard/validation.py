"""Validation constants and rules of the management API (http-api §6), with upstream's texts.

Every check raises `ValidationError(field, message)`, rendered `"<field>: <message>"`.
Lengths are UTF-8 bytes (upstream uses Go `len`); "blank" means empty after trimming Go's
whitespace set. Inputs are already type-checked by the HTTP layer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

from lunard import cron
from lunard.errors import ValidationError

MAX_PAGE_SIZE = 100
MAX_FUNCTION_NAME_LENGTH = 100
MAX_DESCRIPTION_LENGTH = 500
MAX_CODE_LENGTH = 1024 * 1024
MAX_ENV_VAR_KEY_LENGTH = 100
MAX_ENV_VAR_VALUE_LENGTH = 10_000
MAX_ENV_VARS = 100
MAX_STORE_KEY_LENGTH = 100
MAX_STORE_VALUE_LENGTH = 10_000
ALLOWED_RETENTION_DAYS = (7, 15, 30, 365)
ALLOWED_CRON_STATUSES = ("active", "paused")

# Go's unicode.IsSpace set (Python's str.strip also strips \x1c-\x1f, Go does not).
GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_KEY_CHARSET = re.compile(r"[A-Za-z0-9_]+")


def go_list(values: Sequence[object]) -> str:
    """Go's `%v` of a slice: `[7 15 30 365]`."""
    return "[" + " ".join(str(v) for v in values) + "]"


def byte_length(text: str) -> int:
    """UTF-8 length in bytes (lone surrogates count as their 3-byte encoding)."""
    return len(text.encode("utf-8", "surrogatepass"))


def is_blank(text: str) -> bool:
    return not text.strip(GO_SPACE)


@dataclass(frozen=True)
class FunctionUpdate:
    """The fields of `PUT /api/functions/{id}`; None = absent (JSON null included)."""

    name: str | None = None
    description: str | None = None
    code: str | None = None
    disabled: bool | None = None
    retention_days: int | None = None
    cron_schedule: str | None = None
    cron_status: str | None = None
    save_response: bool | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def metadata(self) -> dict[str, object]:
        """Every present field except `code` (those become a column update)."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name != "code" and getattr(self, f.name) is not None
        }

    def touches_schedule(self) -> bool:
        """Whether the scheduler must re-read the function (DECISIONS 13: disabling too)."""
        return any(v is not None for v in (self.cron_schedule, self.cron_status, self.disabled))


def validate_name(name: str) -> None:
    trimmed = name.strip(GO_SPACE)
    if not trimmed:
        raise ValidationError("name", "name cannot be empty")
    if byte_length(trimmed) > MAX_FUNCTION_NAME_LENGTH:
        raise ValidationError(
            "name", f"name cannot be longer than {MAX_FUNCTION_NAME_LENGTH} characters"
        )


def validate_description(description: str) -> None:
    if byte_length(description) > MAX_DESCRIPTION_LENGTH:
        raise ValidationError(
            "description",
            f"description cannot be longer than {MAX_DESCRIPTION_LENGTH} characters",
        )


def validate_code(code: str) -> None:
    if is_blank(code):
        raise ValidationError("code", "code cannot be empty")
    if byte_length(code) > MAX_CODE_LENGTH:
        raise ValidationError("code", f"code cannot be longer than {MAX_CODE_LENGTH} bytes")


def validate_retention_days(days: int) -> None:
    if days not in ALLOWED_RETENTION_DAYS:
        raise ValidationError(
            "retention_days", f"retention_days must be one of: {go_list(ALLOWED_RETENTION_DAYS)}"
        )


def validate_cron_schedule(schedule: str) -> None:
    try:
        cron.validate(schedule)
    except cron.CronError as exc:
        raise ValidationError("cron_schedule", str(exc)) from None


def validate_cron_status(status: str) -> None:
    if status not in ALLOWED_CRON_STATUSES:
        raise ValidationError(
            "cron_status", f"cron_status must be one of: {go_list(ALLOWED_CRON_STATUSES)}"
        )


def validate_create(name: str, description: str | None, code: str) -> None:
    """Create: name, then description (if given), then code."""
    validate_name(name)
    if description is not None:
        validate_description(description)
    validate_code(code)


def validate_update(update: FunctionUpdate) -> None:
    """Update: at least one field, then name, description, code, retention, cron fields."""
    if update.is_empty():
        raise ValidationError("request", "at least one field must be provided for update")
    if update.name is not None:
        validate_name(update.name)
    if update.description is not None:
        validate_description(update.description)
    if update.code is not None:
        validate_code(update.code)
    if update.retention_days is not None:
        validate_retention_days(update.retention_days)
    if update.cron_schedule is not None:
        validate_cron_schedule(update.cron_schedule)
    if update.cron_status is not None:
        validate_cron_status(update.cron_status)


def _check_entry_text(value: str, *, field: str, label: str, max_bytes: int, key: bool) -> None:
    """The rules env vars and KV entries share: not blank, at most `max_bytes` bytes, and for
    keys only letters, digits and underscores. `label` words the message as upstream does."""
    if is_blank(value):
        raise ValidationError(field, f"{label} cannot be empty")
    if byte_length(value) > max_bytes:
        raise ValidationError(field, f"{label} cannot be longer than {max_bytes} characters")
    if key and not _KEY_CHARSET.fullmatch(value):
        raise ValidationError(field, f"{label} can only contain letters, numbers, and underscores")


def validate_env_key(key: str) -> None:
    _check_entry_text(
        key,
        field="env_var_key",
        label="environment variable key",
        max_bytes=MAX_ENV_VAR_KEY_LENGTH,
        key=True,
    )


def validate_env_value(value: str) -> None:
    _check_entry_text(
        value,
        field="env_var_value",
        label="environment variable value",
        max_bytes=MAX_ENV_VAR_VALUE_LENGTH,
        key=False,
    )


def validate_env_vars(env_vars: Mapping[str, str] | None) -> None:
    """Env replace: present, at most 100 entries, then each key and value."""
    if env_vars is None:
        raise ValidationError("env_vars", "env_vars cannot be nil")
    if len(env_vars) > MAX_ENV_VARS:
        raise ValidationError(
            "env_vars", f"cannot have more than {MAX_ENV_VARS} environment variables"
        )
    for key, value in env_vars.items():
        validate_env_key(key)
        validate_env_value(value)


def validate_store_key(key: str) -> None:
    _check_entry_text(key, field="key", label="key", max_bytes=MAX_STORE_KEY_LENGTH, key=True)


def validate_store_value(value: str) -> None:
    _check_entry_text(
        value, field="value", label="value", max_bytes=MAX_STORE_VALUE_LENGTH, key=False
    )


def validate_kv_entries(entries: Sequence[tuple[str, str]] | None) -> None:
    """KV replace: the list must be present (may be empty); each pair checked in order."""
    if entries is None:
        raise ValidationError("kvEntries", "kvEntries cannot be nil")
    for key, value in entries:
        validate_store_key(key)
        validate_store_value(value)
