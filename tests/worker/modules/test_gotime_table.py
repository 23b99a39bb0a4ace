"""`lunard.worker.modules.gotime` as tables: every layout element of lua-runtime §6.8 and
Go's parse errors, with the values Go's `time` package gives (its documentation and the
examples of the spec), on a UTC server unless a row says otherwise.

The Lua-level tests (`test_time.py`) show the module from a handler; these pin the port.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from lunard.worker.modules.gotime import format_time
from lunard.worker.modules.gotime_parse import ParseError, parse_time

# 2021-03-04 05:06:07 UTC, a Thursday, day 63 of the year.
MORNING = 1614834367
EVENING = MORNING + 12 * 3600  # 17:06:07
MIDNIGHT = 1614816000  # 2021-03-04 00:00:00


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The server's local zone is UTC (the container default)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


FORMAT = [
    # year
    (MORNING, "2006", "2021"),
    (MORNING, "06", "21"),
    # month
    (MORNING, "January", "March"),
    (MORNING, "Jan", "Mar"),
    (MORNING, "01", "03"),
    (MORNING, "1", "3"),
    # day, day of year, weekday
    (MORNING, "02", "04"),
    (MORNING, "_2", " 4"),
    (MORNING, "2", "4"),
    (MORNING, "002", "063"),
    (MORNING, "__2", " 63"),
    (MORNING, "Monday", "Thursday"),
    (MORNING, "Mon", "Thu"),
    # clock
    (MORNING, "15", "05"),
    (EVENING, "15", "17"),
    (MORNING, "03", "05"),
    (EVENING, "3", "5"),
    (MIDNIGHT, "03", "12"),  # 12-hour clock: midnight is 12 AM
    (MORNING, "04", "06"),
    (MORNING, "4", "6"),
    (MORNING, "05", "07"),
    (MORNING, "5", "7"),
    (MORNING, "PM", "AM"),
    (EVENING, "PM", "PM"),
    (EVENING, "pm", "pm"),
    (MIDNIGHT, "3:04 PM", "12:00 AM"),
    # fractions (whole seconds: fixed ones are zeros, trimmed ones vanish with their dot)
    (MORNING, ".000", ".000"),
    (MORNING, ",00", ",00"),
    (MORNING, ".999", ""),
    (MORNING, "05.999999", "07"),
    # zones
    (MORNING, "MST", "UTC"),
    (MORNING, "Z07:00", "Z"),
    (MORNING, "Z0700", "Z"),
    (MORNING, "Z07", "Z"),
    (MORNING, "Z07:00:00", "Z"),
    (MORNING, "-07:00", "+00:00"),
    (MORNING, "-0700", "+0000"),
    (MORNING, "-07", "+00"),
    (MORNING, "-07:00:00", "+00:00:00"),
    # whole layouts: the spec's examples, RFC 3339, RFC 1123
    (1609459200, "2006-01-02", "2021-01-01"),
    (0, "2006-01-02T15:04:05Z07:00", "1970-01-01T00:00:00Z"),
    (1609459200, "Jan 2, 2006", "Jan 1, 2021"),
    (1609459200, "15:04:05", "00:00:00"),
    (EVENING, "Mon, 02 Jan 2006 15:04:05 MST", "Thu, 04 Mar 2021 17:06:07 UTC"),
    # any other text is literal, also words that only start like an element
    (MORNING, "Month Janx Mondays", "Month Janx Thursdays"),
    (MORNING, "year: 2006!", "year: 2021!"),
]


@pytest.mark.parametrize(("timestamp", "layout", "expected"), FORMAT)
def test_format(timestamp: int, layout: str, expected: str) -> None:
    assert format_time(timestamp, layout) == expected


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("MST", "IST"),
        ("Z07:00", "+05:30"),
        ("-0700", "+0530"),
        ("-07", "+05"),
        ("-07:00:00", "+05:30:00"),
        ("2006-01-02 15:04", "1970-01-01 05:30"),
    ],
)
def test_format_renders_in_the_local_zone(
    monkeypatch: pytest.MonkeyPatch, layout: str, expected: str
) -> None:
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    assert format_time(0, layout) == expected


PARSE = [
    ("2024-01-15", "2006-01-02", 1705276800),  # the spec's example
    ("Jan 1, 2021", "Jan 2, 2006", 1609459200),
    ("january 5 2021", "January 2 2006", 1609804800),  # month names in any case
    ("2021-1-5", "2006-1-2", 1609804800),
    ("2020-02-29", "2006-01-02", 1582934400),
    ("21-01-05", "06-01-02", 1609804800),
    ("69-01-05", "06-01-02", -31190400),  # two-digit years: 69..99 are 19xx
    ("68-01-05", "06-01-02", 3092947200),  # 00..68 are 20xx
    ("2021 060", "2006 002", 1614556800),  # day of year
    ("2020 060", "2006 002", 1582934400),  # ... in a leap year
    ("10 pm", "3 pm", -62167140000),  # omitted elements: January 1st of year 0
    ("12:00:00 AM", "03:04:05 PM", -62167219200),
    ("Mon, 04 Mar 21", "Mon, 02 Jan 06", MIDNIGHT),  # the weekday is read, not checked
    ("2021-01-01 00:00:00.123", "2006-01-02 15:04:05", 1609459200),  # fraction after seconds
    ("2021-01-01T00:00:00Z", "2006-01-02T15:04:05Z07:00", 1609459200),  # Z for Z07:00
    ("2021-01-01T02:00:00+02:00", "2006-01-02T15:04:05Z07:00", 1609459200),
    ("2021-01-01T00:00:00+0100", "2006-01-02T15:04:05-0700", 1609455600),
    ("2021-01-05 +05:30", "2006-01-02 Z07:00", 1609785000),
    ("2021-01-05 MST", "2006-01-02 MST", 1609804800),  # an unknown zone name: offset 0
    ("2021-01-05   10", "2006-01-02 15", 1609840800),  # a space matches a run of spaces
]


@pytest.mark.parametrize(("value", "layout", "expected"), PARSE)
def test_parse(value: str, layout: str, expected: int) -> None:
    assert parse_time(value, layout) == expected


PARSE_ERRORS = [
    # the element that does not match, quoted with the rest of the value
    (
        "not-a-date",
        "2006-01-02",
        'parsing time "not-a-date" as "2006-01-02": cannot parse "not-a-date" as "2006"',
    ),
    (
        "2021-01-01",
        "Jan 2, 2006",
        'parsing time "2021-01-01" as "Jan 2, 2006": cannot parse "2021-01-01" as "Jan"',
    ),
    (
        "2021/01/01",
        "2006-01-02",
        'parsing time "2021/01/01" as "2006-01-02": cannot parse "/01/01" as "-"',
    ),
    (
        "2021-01-05",
        "2006-01-02 15:04",
        'parsing time "2021-01-05" as "2006-01-02 15:04": cannot parse "" as "15"',
    ),
    ("", "2006", 'parsing time "" as "2006": cannot parse "" as "2006"'),
    ("XM", "PM", 'parsing time "XM" as "PM": cannot parse "XM" as "PM"'),
    ("10 PM", "3 pm", 'parsing time "10 PM" as "3 pm": cannot parse "PM" as "pm"'),
    (
        "Foo, 04 Mar 21",
        "Mon, 02 Jan 06",
        'parsing time "Foo, 04 Mar 21" as "Mon, 02 Jan 06": cannot parse "Foo, 04 Mar 21" as "Mon"',
    ),
    (
        "00:00:00.12",
        "15:04:05.000",
        'parsing time "00:00:00.12" as "15:04:05.000": cannot parse ".12" as ".000"',
    ),
    (
        "2021-01-01T00:00:00Z",
        "2006-01-02T15:04:05-07:00",
        'parsing time "2021-01-01T00:00:00Z" as "2006-01-02T15:04:05-07:00": cannot parse "Z" '
        'as "-07:00"',
    ),
    # values out of range
    ("2021-13-01", "2006-01-02", 'parsing time "2021-13-01": month out of range'),
    ("2021-00-10", "2006-01-02", 'parsing time "2021-00-10": month out of range'),
    ("2021-01-00", "2006-01-02", 'parsing time "2021-01-00": day out of range'),
    ("2021-02-30", "2006-01-02", 'parsing time "2021-02-30": day out of range'),
    ("Feb 29 2021", "Jan 2 2006", 'parsing time "Feb 29 2021": day out of range'),
    ("25:00", "15:04", 'parsing time "25:00": hour out of range'),
    ("12:60", "15:04", 'parsing time "12:60": minute out of range'),
    ("12:00:61", "15:04:05", 'parsing time "12:00:61": second out of range'),
    ("2021 366", "2006 002", 'parsing time "2021 366": day-of-year out of range'),
    ("2021 367", "2006 002", 'parsing time "2021 367": day-of-year out of range'),
    (
        "2021-03-02 060",
        "2006-01-02 002",
        'parsing time "2021-03-02 060": day-of-year does not match day',
    ),
    (
        "2021-04-01 060",
        "2006-01-02 002",
        'parsing time "2021-04-01 060": day-of-year does not match month',
    ),
    # text after the layout, and time's own quoting of odd bytes
    ("2021-01-01 x", "2006-01-02", 'parsing time "2021-01-01 x": extra text: " x"'),
    ("2021-01-05\t", "2006-01-02", 'parsing time "2021-01-05\\x09": extra text: "\\x09"'),
    ("é", "2006", 'parsing time "\\xc3\\xa9" as "2006": cannot parse "\\xc3\\xa9" as "2006"'),
]


@pytest.mark.parametrize(("value", "layout", "message"), PARSE_ERRORS)
def test_parse_errors_are_gos(value: str, layout: str, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_time(value, layout)
    assert str(caught.value) == message
