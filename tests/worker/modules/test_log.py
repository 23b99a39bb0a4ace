"""log module: levels, coercion, masking (lua-runtime §12, 21-25) and caps (DECISIONS 4)."""

from __future__ import annotations

from lunard.messages import JobLimits
from lunard.worker.modules import record_log
from tests.worker.modules.conftest import DEFAULT_LIMITS, Execution, World


def test_s21_log_levels_in_order(lua: Execution) -> None:
    lua.run(
        'log.info("Info message") log.debug("Debug message") '
        'log.warn("Warning message") log.error("Error message")'
    )
    assert [(e.level, e.message) for e in lua.host.logs] == [
        ("info", "Info message"),
        ("debug", "Debug message"),
        ("warn", "Warning message"),
        ("error", "Error message"),
    ]
    stamps = [e.created_at for e in lua.host.logs]
    assert stamps == sorted(stamps)


def test_s22_log_number_coerced_nil_raises(lua: Execution) -> None:
    lua.run("log.info(42) log.info(1.5) log.info(2^53)")
    assert [e.message for e in lua.host.logs] == ["42", "1.5", "9007199254740992"]
    message = lua.error_of("log.info(nil)")
    assert message == "<string>:2: bad argument #1 to 'info' (string expected, got nil)"
    assert "got table" in lua.error_of("log.warn({})")
    assert "got boolean" in lua.error_of("log.error(true)")
    assert len(lua.host.logs) == 3


def test_log_extra_arguments_ignored(lua: Execution) -> None:
    assert lua.run('return select("#", log.info("a %s", "b"))') == 0
    assert lua.host.logs[0].message == "a %s"


def test_log_invalid_utf8_stored_as_replacement(lua: Execution) -> None:
    lua.run(r'log.info("caf\233 \255 ok")')
    assert lua.host.logs[0].message == "caf\ufffd \ufffd ok"
    assert lua.host.log_bytes == len("caf\ufffd \ufffd ok".encode())


def test_s23_log_bearer_masked(lua: Execution) -> None:
    lua.run('log.info("Authorization: Bearer abc123def456ghi789")')
    message = lua.host.logs[0].message
    assert "[REDACTED]" in message
    assert "abc123def456ghi789" not in message


def test_s24_log_password_masked_plain_kept(lua: Execution) -> None:
    lua.run(
        'log.info("User password: my_secret_password_123") log.info("User logged in successfully")'
    )
    assert lua.host.logs[0].message == "User [REDACTED]"
    assert lua.host.logs[1].message == "User logged in successfully"


def test_s25_log_jwt_and_aws_key_masked(lua: Execution) -> None:
    jwt = (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    )
    lua.run(f'log.info("token {jwt} end") log.warn("aws AKIAIOSFODNN7EXAMPLE used")')
    first, second = (e.message for e in lua.host.logs)
    assert jwt not in first and "[REDACTED]" in first
    assert second == "aws [REDACTED] used"


def test_log_entry_cap_adds_one_notice(world: World) -> None:
    limits = JobLimits(**{**_limits_dict(), "max_log_entries": 3})
    lua = world.execution(limits=limits)
    lua.run('for i = 1, 10 do log.info("line " .. i) end')
    messages = [(e.level, e.message) for e in lua.host.logs]
    assert messages == [
        ("info", "line 1"),
        ("info", "line 2"),
        ("info", "line 3"),
        ("warn", "log limit reached: 7 entries dropped"),
    ]
    assert lua.host.logs_dropped == 7


def test_log_byte_cap_adds_one_notice(world: World) -> None:
    limits = JobLimits(**{**_limits_dict(), "max_log_bytes": 10})
    lua = world.execution(limits=limits)
    lua.run('log.info("12345") log.info("67890") log.info("x") log.info("y")')
    assert [e.message for e in lua.host.logs] == [
        "12345",
        "67890",
        "log limit reached: 2 entries dropped",
    ]
    assert lua.host.log_bytes == 10


def test_record_log_masks_for_runtime_entries(lua: Execution) -> None:
    record_log(lua.host, "error", "failed with password=supersecretvalue")
    assert lua.host.logs[-1].level == "error"
    assert lua.host.logs[-1].message == "failed with [REDACTED]"


def _limits_dict() -> dict[str, int]:
    return {f: getattr(DEFAULT_LIMITS, f) for f in DEFAULT_LIMITS.__struct_fields__}


def test_record_log_always_keeps_notice_last(world: World) -> None:
    limits = JobLimits(**{**_limits_dict(), "max_log_entries": 1})
    lua = world.execution(limits=limits)
    lua.run('log.info("a") log.info("b")')
    record_log(lua.host, "error", "handler failed", always=True)
    assert [(e.level, e.message) for e in lua.host.logs] == [
        ("info", "a"),
        ("error", "handler failed"),
        ("warn", "log limit reached: 1 entries dropped"),
    ]
