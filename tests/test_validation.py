"""Validation constants and exact messages (http-api §6)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from lunard import validation as v
from lunard.errors import ValidationError
from lunard.validation import FunctionUpdate


def message(fn: object, *args: object) -> str:
    with pytest.raises(ValidationError) as info:
        fn(*args)  # type: ignore[operator]
    return str(info.value)


def test_constants() -> None:
    assert v.MAX_PAGE_SIZE == 100
    assert v.MAX_FUNCTION_NAME_LENGTH == 100
    assert v.MAX_DESCRIPTION_LENGTH == 500
    assert v.MAX_CODE_LENGTH == 1_048_576
    assert v.MAX_ENV_VAR_KEY_LENGTH == 100
    assert v.MAX_ENV_VAR_VALUE_LENGTH == 10_000
    assert v.MAX_ENV_VARS == 100
    assert v.MAX_STORE_KEY_LENGTH == 100
    assert v.MAX_STORE_VALUE_LENGTH == 10_000
    assert v.ALLOWED_RETENTION_DAYS == (7, 15, 30, 365)
    assert v.ALLOWED_CRON_STATUSES == ("active", "paused")


def test_field_rendering() -> None:
    error = ValidationError("name", "name cannot be empty")
    assert str(error) == "name: name cannot be empty"
    assert error.field == "name"
    assert error.status == 400


def test_lengths_are_bytes() -> None:
    assert v.byte_length("é") == 2
    assert v.byte_length("\ud800") == 3
    v.validate_name("é" * 50)
    assert "longer than 100" in message(v.validate_name, "é" * 51)
    v.validate_description("€" * 166)  # 498 bytes
    assert message(v.validate_description, "€" * 167) == (
        "description: description cannot be longer than 500 characters"
    )


def test_blank_uses_go_whitespace() -> None:
    assert v.is_blank(" \t\n\r\v\f\x85\xa0\u3000")
    assert not v.is_blank("\x1c")  # Python strips it, Go does not
    assert message(v.validate_code, "\u2003\n") == "code: code cannot be empty"


def test_name_rules() -> None:
    assert message(v.validate_name, "  ") == "name: name cannot be empty"
    assert message(v.validate_name, "x" * 101) == "name: name cannot be longer than 100 characters"
    v.validate_name("  " + "x" * 100 + "  ")  # length is checked after trimming


def test_code_rules() -> None:
    v.validate_code("x" * v.MAX_CODE_LENGTH)
    assert message(v.validate_code, "x" * (v.MAX_CODE_LENGTH + 1)) == (
        "code: code cannot be longer than 1048576 bytes"
    )
    # the raw value is measured, whitespace included
    assert "longer" in message(v.validate_code, "x" + " " * v.MAX_CODE_LENGTH)


@pytest.mark.parametrize("days", [7, 15, 30, 365])
def test_retention_allowed(days: int) -> None:
    v.validate_retention_days(days)


@pytest.mark.parametrize("days", [0, -1, 1, 5, 60, 100, 500])
def test_retention_rejected(days: int) -> None:
    assert message(v.validate_retention_days, days) == (
        "retention_days: retention_days must be one of: [7 15 30 365]"
    )


@pytest.mark.parametrize("status", ["", "stopped", "enabled", "Active", "PAUSED"])
def test_cron_status_rejected(status: str) -> None:
    assert message(v.validate_cron_status, status) == (
        "cron_status: cron_status must be one of: [active paused]"
    )


def test_cron_schedule_message() -> None:
    v.validate_cron_schedule("")
    assert message(v.validate_cron_schedule, "* * *") == (
        "cron_schedule: invalid cron expression: expected exactly 5 fields, found 3: [* * *]"
    )


def test_create_order() -> None:
    assert message(v.validate_create, "", "d" * 501, "") == "name: name cannot be empty"
    assert message(v.validate_create, "n", "d" * 501, "").startswith("description:")
    assert message(v.validate_create, "n", None, "").startswith("code:")
    v.validate_create("n", None, "return 1")


def test_update_needs_a_field() -> None:
    assert FunctionUpdate().is_empty()
    assert message(v.validate_update, FunctionUpdate()) == (
        "request: at least one field must be provided for update"
    )
    for update in (
        FunctionUpdate(save_response=False),
        FunctionUpdate(disabled=False),
        FunctionUpdate(cron_schedule=""),
        FunctionUpdate(description=""),
    ):
        v.validate_update(update)


def test_update_order() -> None:
    update = FunctionUpdate(
        name="",
        description="d" * 501,
        code="",
        retention_days=2,
        cron_schedule="x",
        cron_status="x",
    )
    order = ["name:", "description:", "code:", "retention_days:", "cron_schedule:", "cron_status:"]
    fixes: dict[str, dict[str, Any]] = {
        "name:": {"name": "ok"},
        "description:": {"description": "ok"},
        "code:": {"code": "return 1"},
        "retention_days:": {"retention_days": 7},
        "cron_schedule:": {"cron_schedule": ""},
    }
    for prefix in order:
        assert message(v.validate_update, update).startswith(prefix)
        if prefix in fixes:
            update = dataclasses.replace(update, **fixes[prefix])


def test_update_metadata_and_schedule_flags() -> None:
    update = FunctionUpdate(code="return 1", name="n", save_response=False)
    assert update.metadata() == {"name": "n", "save_response": False}
    assert not update.touches_schedule()
    assert FunctionUpdate(code="x").metadata() == {}
    assert FunctionUpdate(cron_status="paused").touches_schedule()
    assert FunctionUpdate(cron_schedule="").touches_schedule()
    assert FunctionUpdate(disabled=True).touches_schedule()


@pytest.mark.parametrize(
    "key",
    ["API_KEY", "PORT", "DB_HOST_1", "_PRIVATE", "snake_case_key", "MixedCase123", "123", "_123"],
)
def test_env_key_valid(key: str) -> None:
    v.validate_env_vars({key: "value"})


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"": "v"}, "env_var_key: environment variable key cannot be empty"),
        ({" ": "v"}, "env_var_key: environment variable key cannot be empty"),
        (
            {"K" * 101: "v"},
            "env_var_key: environment variable key cannot be longer than 100 characters",
        ),
        *[
            (
                {key: "v"},
                "env_var_key: environment variable key can only contain letters, numbers, "
                "and underscores",
            )
            for key in ("API-KEY", "API.KEY", "API KEY", "API@KEY", "KEY\n", "ÄPI")
        ],
        ({"K": ""}, "env_var_value: environment variable value cannot be empty"),
        ({"K": "\t "}, "env_var_value: environment variable value cannot be empty"),
        (
            {"K": "v" * 10001},
            "env_var_value: environment variable value cannot be longer than 10000 characters",
        ),
        (
            {f"K{i}": "v" for i in range(101)},
            "env_vars: cannot have more than 100 environment variables",
        ),
    ],
)
def test_env_invalid(env: dict[str, str], expected: str) -> None:
    assert message(v.validate_env_vars, env) == expected


def test_env_nil_and_limits() -> None:
    assert message(v.validate_env_vars, None) == "env_vars: env_vars cannot be nil"
    v.validate_env_vars({})
    v.validate_env_vars({f"K{i}": "v" * 10000 for i in range(100)})
    v.validate_env_vars({"K" * 100: "v"})


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (None, "kvEntries: kvEntries cannot be nil"),
        ([("", "v")], "key: key cannot be empty"),
        ([("k" * 101, "v")], "key: key cannot be longer than 100 characters"),
        ([("bad-key", "v")], "key: key can only contain letters, numbers, and underscores"),
        ([("k", " ")], "value: value cannot be empty"),
        ([("k", "v" * 10001)], "value: value cannot be longer than 10000 characters"),
        ([("ok", "v"), ("", "v")], "key: key cannot be empty"),
    ],
)
def test_kv_invalid(entries: list[tuple[str, str]] | None, expected: str) -> None:
    assert message(v.validate_kv_entries, entries) == expected


def test_kv_valid() -> None:
    v.validate_kv_entries([])
    v.validate_kv_entries([("k" * 100, "v" * 10000), ("_1", "x"), ("k", "dup"), ("k", "dup2")])
    v.validate_kv_entries([(f"k{i}", "v") for i in range(500)])  # no upper bound on entries


def test_go_list() -> None:
    assert v.go_list([7, 15, 30, 365]) == "[7 15 30 365]"
    assert v.go_list(["active", "paused"]) == "[active paused]"
