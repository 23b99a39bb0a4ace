"""Parsing with Go reference-time layouts: `time.parse` (lua-runtime §6.8).

The other half of `gotime` (layouts and formatting): Go's leniencies (one- or two-digit
numbers, case-insensitive month names, `Z` for a zero offset) and its error texts, to the
letter (`parsing time "x" as "2006-01-02": cannot parse "x" as "2006"`).
"""

from __future__ import annotations

from dataclasses import dataclass

from lunard.golang import time_quote
from lunard.worker.modules.gotime import (
    DAYS_BEFORE,
    LONG_DAYS,
    LONG_MONTHS,
    SHORT_DAYS,
    SHORT_MONTHS,
    Chunk,
    days_from_civil,
    is_digit,
    split_layout,
)


class ParseError(ValueError):
    """A value that does not fit its layout; the message is Go's."""


class _Bad(Exception):
    """The value does not match the current element (Go's errBad)."""


def _skip(value: str, prefix: str) -> str:
    """`value` after the literal `prefix`; a run of spaces matches any run of spaces."""
    # Indexes, not slices: slicing one character at a time was quadratic in the prefix.
    v = p = 0
    while p < len(prefix):
        if prefix[p] == " ":
            if v < len(value) and value[v] != " ":
                raise _Bad
            while p < len(prefix) and prefix[p] == " ":
                p += 1
            while v < len(value) and value[v] == " ":
                v += 1
            continue
        if v >= len(value) or value[v] != prefix[p]:
            raise _Bad
        p += 1
        v += 1
    return value[v:]


def _getnum(value: str, fixed: bool, width: int = 2) -> tuple[int, str]:
    if not is_digit(value, 0):
        raise _Bad
    count = 1
    while count < width and is_digit(value, count):
        count += 1
    if fixed and count < width:
        raise _Bad
    return int(value[:count]), value[count:]


def _lookup(names: tuple[str, ...], value: str) -> tuple[int, str]:
    for index, name in enumerate(names):
        if len(value) >= len(name) and value[: len(name)].lower() == name.lower():
            return index, value[len(name) :]
    raise _Bad


def _zone_abbreviation_length(value: str) -> int:
    if len(value) < 3:
        return 0
    if value[:4] in ("ChST", "MeST"):
        return 4
    if value.startswith("GMT"):
        return 3 + _signed_offset_length(value[3:])
    if value[0] in "+-":
        return _signed_offset_length(value)
    upper = 0
    while upper < min(len(value), 6) and "A" <= value[upper] <= "Z":
        upper += 1
    if upper == 3:
        return 3
    if upper == 4 and (value[3] == "T" or value[:4] == "WITA"):
        return 4
    if upper == 5 and value[4] == "T":
        return 5
    return 0


def _signed_offset_length(value: str) -> int:
    if not value or value[0] not in "+-":
        return 0
    end = 1
    while is_digit(value, end):
        end += 1
    if end == 1 or int(value[1:end]) > 23:
        return 0
    return end


def _parse_zone(std: str, value: str) -> tuple[int, str]:
    if std.startswith("ISO") and value.startswith("Z"):
        return 0, value[1:]
    colon = "Colon" in std
    if "Short" in std:
        need, parts = 3, (value[1:3], "00", "00")
    elif "Seconds" in std:
        need = 9 if colon else 7
        if colon and len(value) >= 9 and (value[3] != ":" or value[6] != ":"):
            raise _Bad
        parts = (value[1:3], value[4:6], value[7:9]) if colon else (
            value[1:3], value[3:5], value[5:7])  # fmt: skip
    else:
        need = 6 if colon else 5
        if colon and len(value) >= 6 and value[3] != ":":
            raise _Bad
        parts = (value[1:3], value[4:6], "00") if colon else (value[1:3], value[3:5], "00")
    if len(value) < need:
        raise _Bad
    hours, minutes, seconds = (_getnum(part, True)[0] for part in parts)
    offset = (hours * 60 + minutes) * 60 + seconds
    if value[0] == "-":
        offset = -offset
    elif value[0] != "+":
        raise _Bad
    return offset, value[need:]


def _fraction(value: str, width: int) -> str:
    if len(value) < width or value[0] not in ".,":
        raise _Bad
    if not value[1:width].isdigit() or not value[1:width].isascii():
        raise _Bad
    return value[width:]


@dataclass
class _Parsed:
    year: int = 0
    month: int = -1
    day: int = -1
    yearday: int = -1
    hour: int = 0
    minute: int = 0
    second: int = 0
    offset: int = 0
    am: bool = False
    pm: bool = False


def _parse_date(std: str, value: str, p: _Parsed) -> tuple[str, str] | None:
    """Year, month, weekday, day and day-of-year elements; None when `std` is not one."""
    if std in ("Year", "LongYear"):
        width = 2 if std == "Year" else 4
        if len(value) < width or not value[:width].isascii() or not value[:width].isdigit():
            raise _Bad
        year = int(value[:width])
        if std == "Year":
            year += 1900 if year >= 69 else 2000
        p.year = year
        return value[width:], ""
    if std in ("Month", "LongMonth"):
        index, value = _lookup(SHORT_MONTHS if std == "Month" else LONG_MONTHS, value)
        p.month = index + 1
        return value, ""
    if std in ("NumMonth", "ZeroMonth"):
        p.month, value = _getnum(value, std == "ZeroMonth")
        return value, "" if 1 <= p.month <= 12 else "month"
    if std in ("WeekDay", "LongWeekDay"):
        return _lookup(SHORT_DAYS if std == "WeekDay" else LONG_DAYS, value)[1], ""
    if std in ("Day", "UnderDay", "ZeroDay"):
        if std == "UnderDay" and value.startswith(" "):
            value = value[1:]
        p.day, value = _getnum(value, std == "ZeroDay")
        return value, ""
    if std in ("UnderYearDay", "ZeroYearDay"):
        if std == "UnderYearDay":
            value = value[2:] if value.startswith("  ") else value.removeprefix(" ")
        p.yearday, value = _getnum(value, std == "ZeroYearDay", 3)
        return value, ""
    return None


def _parse_clock(std: str, value: str, p: _Parsed, next_std: str) -> tuple[str, str] | None:
    """Hour, minute, second and AM/PM elements; None when `std` is not one."""
    if std in ("Hour", "Hour12", "ZeroHour12"):
        p.hour, value = _getnum(value, std == "ZeroHour12")
        return value, "" if p.hour < (24 if std == "Hour" else 13) else "hour"
    if std in ("Minute", "ZeroMinute"):
        p.minute, value = _getnum(value, std == "ZeroMinute")
        return value, "" if p.minute < 60 else "minute"
    if std in ("Second", "ZeroSecond"):
        p.second, value = _getnum(value, std == "ZeroSecond")
        if p.second >= 60:
            return value, "second"
        # A fraction in the value but not in the layout is accepted (and dropped).
        fraction = len(value) >= 2 and value[0] in ".," and is_digit(value, 1)
        if fraction and not next_std.startswith("Frac"):
            value = value[_digits_end(value, 2) :]
        return value, ""
    if std in ("PM", "pm"):
        marker = value[:2]
        if marker == ("PM" if std == "PM" else "pm"):
            p.pm = True
        elif marker == ("AM" if std == "PM" else "am"):
            p.am = True
        else:
            raise _Bad
        return value[2:], ""
    return None


def _digits_end(value: str, start: int) -> int:
    end = start
    while is_digit(value, end):
        end += 1
    return end


def _parse_zone_or_fraction(chunk: Chunk, value: str, p: _Parsed) -> tuple[str, str]:
    """Zone abbreviations, numeric offsets and fractional seconds."""
    std = chunk.std
    if std == "TZ":
        if value.startswith("UTC"):
            return value[3:], ""
        length = _zone_abbreviation_length(value)
        if length == 0:
            raise _Bad
        # Abbreviations carry no offset (Go fabricates a zero-offset zone); GMT+N does.
        name = value[:length]
        if name.startswith("GMT") and len(name) > 3:
            p.offset = int(name[3:]) * 3600
        return value[length:], ""
    if std == "FracSecond0":
        return _fraction(value, 1 + chunk.digits), ""
    if std == "FracSecond9":
        if len(value) < 2 or value[0] not in ".," or not is_digit(value, 1):
            return value, ""
        return value[_digits_end(value, 1) :], ""
    p.offset, value = _parse_zone(std, value)
    return value, ""


def _parse_element(chunk: Chunk, value: str, p: _Parsed, next_std: str) -> tuple[str, str]:
    """Consume one element from `value`; return (rest, range error name or "")."""
    done = _parse_date(chunk.std, value, p) or _parse_clock(chunk.std, value, p, next_std)
    return done if done is not None else _parse_zone_or_fraction(chunk, value, p)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in(month: int, year: int) -> int:
    if month == 2 and _is_leap(year):
        return 29
    return DAYS_BEFORE[month] - DAYS_BEFORE[month - 1]


def _resolve_yearday(p: _Parsed) -> str | None:
    """Turn a day-of-year into month/day; return an error suffix or None."""
    yearday, month, day = p.yearday, 0, 0
    if _is_leap(p.year):
        if yearday == 31 + 29:
            month, day = 2, 29
        elif yearday > 31 + 29:
            yearday -= 1
    if yearday < 1 or yearday > 365:
        return ": day-of-year out of range"
    if month == 0:
        month = (yearday - 1) // 31 + 1
        if DAYS_BEFORE[month] < yearday:
            month += 1
        day = yearday - DAYS_BEFORE[month - 1]
    if p.month >= 0 and p.month != month:
        return ": day-of-year does not match month"
    if p.day >= 0 and p.day != day:
        return ": day-of-year does not match day"
    p.month, p.day = month, day
    return None


def parse_time(value: str, layout: str) -> int:
    """Unix seconds of `value` read with a Go layout (UTC unless it names a zone).

    Raise ParseError with Go's message.
    """
    original = value
    chunks = split_layout(layout)
    p = _Parsed()
    for index, chunk in enumerate(chunks):
        try:
            value = _skip(value, chunk.prefix)
        except _Bad:
            raise ParseError(
                f"parsing time {time_quote(original)} as {time_quote(layout)}: cannot parse "
                f"{time_quote(value)} as {time_quote(chunk.prefix)}"
            ) from None
        if not chunk.std:
            if value:
                raise ParseError(
                    f"parsing time {time_quote(original)}: extra text: {time_quote(value)}"
                )
            break
        next_std = chunks[index + 1].std
        hold = value
        try:
            value, range_error = _parse_element(chunk, value, p, next_std)
        except _Bad:
            raise ParseError(
                f"parsing time {time_quote(original)} as {time_quote(layout)}: cannot parse "
                f"{time_quote(hold)} as {time_quote(chunk.text)}"
            ) from None
        if range_error:
            raise ParseError(f"parsing time {time_quote(original)}: {range_error} out of range")
    if p.pm and p.hour < 12:
        p.hour += 12
    elif p.am and p.hour == 12:
        p.hour = 0
    if p.yearday >= 0:
        problem = _resolve_yearday(p)
        if problem:
            raise ParseError(f"parsing time {time_quote(original)}{problem}")
    else:
        p.month = 1 if p.month < 0 else p.month
        p.day = 1 if p.day < 0 else p.day
    if p.day < 1 or p.day > _days_in(p.month, p.year):
        raise ParseError(f"parsing time {time_quote(original)}: day out of range")
    days = days_from_civil(p.year, p.month, p.day)
    return days * 86400 + p.hour * 3600 + p.minute * 60 + p.second - p.offset
