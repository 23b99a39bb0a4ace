"""time module: Go layouts, UTC parsing, deadline-aware sleep (lua-runtime §6.8, §12 61-65)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.worker.modules.conftest import Execution, World


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run with the server's local zone set to UTC (the container default)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_s61_time_now_and_format(lua: Execution, utc: None) -> None:
    before = int(time.time())
    now, formatted = lua.run('local n = time.now() return n, time.format(n, "2006-01-02")')
    assert before <= now <= int(time.time())
    assert isinstance(now, int)
    assert formatted == time.strftime("%Y-%m-%d", time.gmtime(now))
    body = lua.run(
        "local n = time.now() "
        'return "Now: " .. n .. ", Formatted: " .. time.format(n, "2006-01-02")'
    )
    assert body.startswith("Now: ") and len(body.split("Formatted: ")[1]) == 10


def test_s62_time_parse_date(lua: Execution) -> None:
    assert lua.run('return time.parse("2024-01-15", "2006-01-02")') == (1705276800, None)


def test_s63_time_parse_month_name_and_errors(lua: Execution) -> None:
    assert lua.run('return time.parse("Jan 1, 2021", "Jan 2, 2006")') == (1609459200, None)
    assert lua.run('return time.parse("not-a-date", "2006-01-02")') == (
        None,
        'parsing time "not-a-date" as "2006-01-02": cannot parse "not-a-date" as "2006"',
    )
    value, err = lua.run('return time.parse("2021-01-01", "Jan 2, 2006")')
    assert value is None
    assert err == 'parsing time "2021-01-01" as "Jan 2, 2006": cannot parse "2021-01-01" as "Jan"'


def test_s64_time_format_layouts(lua: Execution, utc: None) -> None:
    assert lua.run('return time.format(1609459200, "15:04:05")') == "00:00:00"
    assert lua.run('return time.format(1609459200, "Jan 2, 2006")') == "Jan 1, 2021"
    assert lua.run('return time.format(1609459200, "2006-01-02")') == "2021-01-01"
    assert lua.run('return time.format(0, "2006-01-02T15:04:05Z07:00")') == "1970-01-01T00:00:00Z"


def test_s65_time_sleep_waits(lua: Execution) -> None:
    started = time.monotonic()
    assert lua.run('return select("#", time.sleep(50))') == 0
    assert time.monotonic() - started >= 0.05
    started = time.monotonic()
    lua.run("time.sleep(0) time.sleep(-5)")
    assert time.monotonic() - started < 0.05


def test_s65_time_sleep_stops_at_deadline(world: World) -> None:
    lua = world.execution(timeout=0.01)
    started = time.monotonic()
    message = lua.error_of("time.sleep(1000)")
    elapsed = time.monotonic() - started
    assert elapsed < 0.5
    assert message == "<string>:2: context deadline exceeded"


def test_time_format_every_element(lua: Execution, utc: None) -> None:
    # 2021-03-04 05:06:07 UTC, a Thursday, day 63 of the year
    ts = 1614834367
    assert (
        lua.run(f'return time.format({ts}, "Monday Mon January Jan 1 01 2 _2 02 __2 002 06 2006")')
        == "Thursday Thu March Mar 3 03 4  4 04  63 063 21 2021"
    )
    assert lua.run(f'return time.format({ts}, "15 3 03 4 04 5 05 PM pm .000 ,00 .999 MST")') == (
        "05 5 05 6 06 7 07 AM am .000 ,00  UTC"
    )
    assert lua.run(f'return time.format({ts}, "-0700 -07:00 -07 Z0700 Z07 -07:00:00")') == (
        "+0000 +00:00 +00 Z Z +00:00:00"
    )
    assert lua.run(f'return time.format("{ts}.9", "Jan _2")') == "Mar  4"


def test_time_format_in_local_zone(lua: Execution, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        assert lua.run('return time.format(0, "2006-01-02 15:04 MST Z07:00 -0700")') == (
            "1970-01-01 05:30 IST +05:30 +0530"
        )
    finally:
        monkeypatch.undo()
        time.tzset()


def test_time_parse_zones_and_clock(lua: Execution) -> None:
    assert lua.run('return time.parse("2021-01-01T00:00:00Z", "2006-01-02T15:04:05Z07:00")') == (
        1609459200,
        None,
    )
    assert lua.run(
        'return time.parse("2021-01-01T02:00:00+02:00", "2006-01-02T15:04:05Z07:00")'
    ) == (1609459200, None)
    assert lua.run('return time.parse("2021-01-01 12:30:15.123 PM", "2006-01-02 03:04:05 PM")') == (
        1609504215,
        None,
    )
    assert lua.run('return time.parse("12:00:00 AM", "03:04:05 PM")') == (-62167219200, None)
    assert lua.run('return time.parse("Thu, 04 Mar 21 05:06 MST", "Mon, 02 Jan 06 15:04 MST")') == (
        1614834360,
        None,
    )


def test_time_parse_range_and_extra_text(lua: Execution) -> None:
    assert lua.run('return time.parse("2021-02-30", "2006-01-02")') == (
        None,
        'parsing time "2021-02-30": day out of range',
    )
    assert lua.run('return time.parse("2021-13-01", "2006-01-02")') == (
        None,
        'parsing time "2021-13-01": month out of range',
    )
    assert lua.run('return time.parse("2021-01-01 x", "2006-01-02")') == (
        None,
        'parsing time "2021-01-01 x": extra text: " x"',
    )


def test_time_argument_checks(lua: Execution) -> None:
    assert "bad argument #1 to 'format' (number expected, got string)" in lua.error_of(
        'time.format("abc", "2006")'
    )
    assert "bad argument #2 to 'parse' (string expected, got nil)" in lua.error_of(
        'time.parse("2021")'
    )
