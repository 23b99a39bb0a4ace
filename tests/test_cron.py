"""robfig-compatible cron parsing, next fire times and next-run wording (platform §1.2–1.7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lunard import cron
from lunard.cron import CronError, next_fire, next_run_human, parse, validate

MONDAY = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)  # Monday 1 January 2024, 12:00 UTC


def fire(expr: str, after: datetime = MONDAY) -> datetime:
    return next_fire(expr, after, "UTC")


def error(expr: str) -> str:
    with pytest.raises(CronError) as info:
        parse(expr)
    return str(info.value)


# --------------------------------------------------------------------------- syntax


@pytest.mark.parametrize(
    "expr",
    [
        "*/5 * * * *",
        "0 * * * *",
        "0 0 * * *",
        "0 9 * * 1-5",
        "0 0 1 * *",
        "0 0 ? * MON",
        "0 0 * JAN-MAR sun,sat",
        "0 0 * * Mon-Fri",
        "1,2,3 1-5/2 */3 jan,Jul 0-6",
        "5/15 * * * *",
        "+5 * * * *",
        "0 0 1,,15 * *",
        "TZ=Europe/Berlin 0 9 * * *",
        "CRON_TZ=America/New_York 30 6 * * 1",
        "0   0  *   *  *",
    ],
)
def test_accepts_robfig_syntax(expr: str) -> None:
    validate(expr)
    assert parse(expr).expression == expr


def test_empty_is_valid_but_not_a_schedule() -> None:
    validate("")
    assert error("") == "invalid cron expression: empty spec string"


@pytest.mark.parametrize(
    ("expr", "detail"),
    [
        ("* * *", "expected exactly 5 fields, found 3: [* * *]"),
        ("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"),
        ("not a cron", "expected exactly 5 fields, found 3: [not a cron]"),
        ("   ", "expected exactly 5 fields, found 0: []"),
        ("@hourly", "parser does not accept descriptors: @hourly"),
        ("@every 5m", "parser does not accept descriptors: @every 5m"),
        ("60 * * * *", "end of range (60) above maximum (59): 60"),
        ("* 25 * * *", "end of range (25) above maximum (23): 25"),
        ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("0 0 32 * *", "end of range (32) above maximum (31): 32"),
        ("0 0 * 13 *", "end of range (13) above maximum (12): 13"),
        ("0 0 * * 7", "end of range (7) above maximum (6): 7"),
        ("0 0 * * 0-7", "end of range (7) above maximum (6): 0-7"),
        ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("*/5/2 * * * *", "too many slashes: */5/2"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("*/-1 * * * *", "negative number (-1) not allowed: -1"),
        ("a * * * *", 'failed to parse int from a: strconv.Atoi: parsing "a": invalid syntax'),
        ("0 0 L * *", 'failed to parse int from L: strconv.Atoi: parsing "L": invalid syntax'),
        ("0 0 * * 1#2", "failed to parse int from 1#2"),
        ("0 0 * FOO *", "failed to parse int from FOO"),
        ("0 0 * * MONDAY", "failed to parse int from MONDAY"),
        ("1- * * * *", 'failed to parse int from : strconv.Atoi: parsing "": invalid syntax'),
        ("TZ=Mars/Olympus 0 0 * * *", "provided bad location Mars/Olympus: unknown time zone"),
    ],
)
def test_rejects_like_robfig(expr: str, detail: str) -> None:
    message = error(expr)
    assert message.startswith("invalid cron expression: " + detail)
    with pytest.raises(CronError):
        validate(expr)


def test_error_keeps_detail() -> None:
    with pytest.raises(CronError) as info:
        parse("* * *")
    assert info.value.detail == "expected exactly 5 fields, found 3: [* * *]"


# --------------------------------------------------------------------------- next fire


def test_next_is_strictly_after() -> None:
    assert fire("0 12 * * *") == datetime(2024, 1, 2, 12, 0, tzinfo=UTC)
    assert fire("*/5 * * * *") == datetime(2024, 1, 1, 12, 5, tzinfo=UTC)
    half_second_past = MONDAY + timedelta(microseconds=500_000)
    assert fire("*/5 * * * *", half_second_past) == datetime(2024, 1, 1, 12, 5, tzinfo=UTC)
    assert fire("* * * * *", MONDAY - timedelta(seconds=1)) == MONDAY


def test_step_from_a_number_runs_to_the_maximum() -> None:
    # robfig: "5/20" means "5-59/20" -> 5, 25, 45
    assert fire("5/20 * * * *") == datetime(2024, 1, 1, 12, 5, tzinfo=UTC)
    assert fire("5/20 * * * *", datetime(2024, 1, 1, 12, 45, tzinfo=UTC)) == datetime(
        2024, 1, 1, 13, 5, tzinfo=UTC
    )


def test_names_are_case_insensitive() -> None:
    assert fire("0 0 * feb SUN") == datetime(2024, 2, 4, 0, 0, tzinfo=UTC)
    assert fire("0 0 * Feb sun") == fire("0 0 * 2 0")


def test_dom_and_dow_both_restricted_is_or() -> None:
    # the 13th or any Friday: Friday 5 January comes first
    assert fire("0 0 13 * 5") == datetime(2024, 1, 5, 0, 0, tzinfo=UTC)
    after_friday = datetime(2024, 1, 12, 1, 0, tzinfo=UTC)
    assert fire("0 0 13 * 5", after_friday) == datetime(2024, 1, 13, 0, 0, tzinfo=UTC)


def test_star_in_either_day_field_is_and() -> None:
    assert fire("0 0 * * 1") == datetime(2024, 1, 8, 0, 0, tzinfo=UTC)
    assert fire("0 0 ? * 1") == datetime(2024, 1, 8, 0, 0, tzinfo=UTC)
    assert fire("0 0 13 * ?") == datetime(2024, 1, 13, 0, 0, tzinfo=UTC)


def test_star_with_step_counts_as_restricted() -> None:
    # "*/2" (days 1,3,5,...) is not a star for robfig, so it ORs with Mondays: the 3rd
    assert fire("0 0 */2 * 1") == datetime(2024, 1, 3, 0, 0, tzinfo=UTC)
    # "*/1" is still a star: Mondays only
    assert fire("0 0 */1 * 1") == datetime(2024, 1, 8, 0, 0, tzinfo=UTC)


def test_full_range_written_out_ors_to_every_day() -> None:
    assert fire("0 0 1-31 * 1") == datetime(2024, 1, 2, 0, 0, tzinfo=UTC)
    assert fire("0 0 20 * 0-6") == datetime(2024, 1, 2, 0, 0, tzinfo=UTC)


def test_time_zone_setting() -> None:
    new_york = next_fire("0 9 * * *", MONDAY, "America/New_York")
    assert new_york == datetime(2024, 1, 1, 14, 0, tzinfo=UTC)
    assert new_york.utcoffset() == timedelta(hours=-5)
    assert next_fire("0 9 * * *", MONDAY, ZoneInfo("Asia/Tokyo")) == datetime(
        2024, 1, 2, 0, 0, tzinfo=UTC
    )


def test_tz_prefix_overrides_setting() -> None:
    for prefix in ("TZ=", "CRON_TZ="):
        got = next_fire(f"{prefix}Asia/Tokyo 0 9 * * *", MONDAY, "America/New_York")
        assert got == datetime(2024, 1, 2, 0, 0, tzinfo=UTC)
    assert next_fire("TZ=UTC 0 13 * * *", MONDAY, "Asia/Tokyo") == datetime(
        2024, 1, 1, 13, 0, tzinfo=UTC
    )


def test_empty_time_zone_is_local() -> None:
    now = datetime.now(UTC)
    local = cron.resolve_zone("")
    assert local.utcoffset(now.astimezone(local)) == datetime.now().astimezone().utcoffset()


def test_naive_after_is_read_in_the_zone() -> None:
    got = next_fire("30 12 * * *", datetime(2024, 1, 1, 12, 0), "Asia/Tokyo")
    assert got == datetime(2024, 1, 1, 12, 30, tzinfo=ZoneInfo("Asia/Tokyo"))


@pytest.mark.parametrize("expr", ["0 0 30 2 *", "0 0 31 4 *", ", * * * *"])
def test_valid_but_never_firing(expr: str) -> None:
    validate(expr)  # robfig accepts these
    with pytest.raises(CronError, match="never fires"):
        fire(expr)


def test_leap_day_is_found() -> None:
    assert fire("0 0 29 2 *", datetime(2025, 3, 1, tzinfo=UTC)) == datetime(
        2028, 2, 29, 0, 0, tzinfo=UTC
    )


# --------------------------------------------------------------------------- human wording

NOW = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-1, "overdue"),
        (-0.001, "overdue"),
        (0, "in less than a minute"),
        (59.999, "in less than a minute"),
        (60, "in 1 minute"),
        (119.9, "in 1 minute"),
        (120, "in 2 minutes"),
        (3599, "in 59 minutes"),
        (3600, "in 1 hour"),
        (7199, "in 1 hour"),
        (7200, "in 2 hours"),
        (86399, "in 23 hours"),
        (86400, "in 1 day"),
        (172799, "in 1 day"),
        (172800, "in 2 days"),
        (86400 * 400, "in 400 days"),
    ],
)
def test_next_run_human_thresholds(seconds: float, text: str) -> None:
    assert next_run_human(NOW + timedelta(seconds=seconds), NOW) == text
