"""Go reference-time layouts (`2006-01-02 15:04:05 MST`): formatting and parsing.

A port of the layout rules of Go's `time` package that Lunar's `time.format`/`time.parse`
expose (lua-runtime §6.8): the same layout elements, the same leniencies (one- or two-digit
numbers, case-insensitive month names, `Z` for a zero offset) and the same error texts
(`parsing time "x" as "2006-01-02": cannot parse "x" as "2006"`). strftime cannot express
these layouts, hence our own code. Times are whole Unix seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from lunard.golang import time_quote

LONG_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December",
)  # fmt: skip
LONG_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
SHORT_MONTHS = tuple(name[:3] for name in LONG_MONTHS)
SHORT_DAYS = tuple(name[:3] for name in LONG_DAYS)
_DAYS_BEFORE = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365)

_ZERO_X = ("ZeroMonth", "ZeroDay", "ZeroHour12", "ZeroMinute", "ZeroSecond", "Year")
# Zone elements, longest first as Go tries them; value = (name, hours:minutes separator, form)
_NUM_ZONES = (
    ("-070000", "NumSecondsTZ"),
    ("-07:00:00", "NumColonSecondsTZ"),
    ("-0700", "NumTZ"),
    ("-07:00", "NumColonTZ"),
    ("-07", "NumShortTZ"),
)
_ISO_ZONES = (
    ("Z070000", "ISOSecondsTZ"),
    ("Z07:00:00", "ISOColonSecondsTZ"),
    ("Z0700", "ISOTZ"),
    ("Z07:00", "ISOColonTZ"),
    ("Z07", "ISOShortTZ"),
)


class ParseError(ValueError):
    """A value that does not fit its layout; the message is Go's."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """Literal text followed by one layout element (`std` empty at the end of the layout)."""

    prefix: str
    std: str
    text: str  # the element as written in the layout, e.g. "2006"
    digits: int = 0  # fraction width for FracSecond0/9
    separator: str = ""  # fraction separator, "." or ","


def _starts_lower(text: str) -> bool:
    return bool(text) and "a" <= text[0] <= "z"


def _is_digit(text: str, index: int) -> bool:
    return index < len(text) and "0" <= text[index] <= "9"


_WINDOW = 10
"""Enough text to recognise any named element (`January`, `-07:00:00`...)."""


def _element_at(layout: str, i: int) -> tuple[str, int, int] | None:
    """The element starting at `layout[i]` as (std, length, fraction digits), if any."""
    # A short window, not layout[i:]: copying the rest at every position made long layouts
    # quadratic. Fractions (any number of digits) are measured in `layout` itself.
    rest = layout[i : i + _WINDOW]
    c = rest[0]
    if c == "J" and rest.startswith("Jan"):
        if rest.startswith("January"):
            return "LongMonth", 7, 0
        if not _starts_lower(rest[3:]):
            return "Month", 3, 0
    elif c == "M":
        if rest.startswith("Mon"):
            if rest.startswith("Monday"):
                return "LongWeekDay", 6, 0
            if not _starts_lower(rest[3:]):
                return "WeekDay", 3, 0
        if rest.startswith("MST"):
            return "TZ", 3, 0
    elif c == "0":
        if len(rest) >= 2 and "1" <= rest[1] <= "6":
            return _ZERO_X[ord(rest[1]) - ord("1")], 2, 0
        if rest.startswith("002"):
            return "ZeroYearDay", 3, 0
    elif c == "1":
        return ("Hour", 2, 0) if rest.startswith("15") else ("NumMonth", 1, 0)
    elif c == "2":
        return ("LongYear", 4, 0) if rest.startswith("2006") else ("Day", 1, 0)
    elif c == "_":
        if rest.startswith("_2") and not rest.startswith("_2006"):
            return "UnderDay", 2, 0
        if rest.startswith("__2"):
            return "UnderYearDay", 3, 0
    elif c in "345":
        return {"3": "Hour12", "4": "Minute", "5": "Second"}[c], 1, 0
    elif c == "P" and rest.startswith("PM"):
        return "PM", 2, 0
    elif c == "p" and rest.startswith("pm"):
        return "pm", 2, 0
    elif c in "-Z":
        for text, std in _NUM_ZONES if c == "-" else _ISO_ZONES:
            if rest.startswith(text):
                return std, len(text), 0
    elif c in ".," and len(rest) > 1 and rest[1] in "09":
        end = i + 1
        while end < len(layout) and layout[end] == rest[1]:
            end += 1
        if not _is_digit(layout, end):
            std = "FracSecond0" if rest[1] == "0" else "FracSecond9"
            return std, end - i, end - i - 1
    return None


def split_layout(layout: str) -> list[Chunk]:
    """The layout as chunks; the last chunk has an empty `std` and holds trailing text."""
    chunks: list[Chunk] = []
    start = 0
    i = 0
    while i < len(layout):
        if layout[i] == "_" and layout.startswith("_2006", i):
            # Go reads "_2006" as a literal "_" followed by the year.
            i += 1
            continue
        found = _element_at(layout, i)
        if found is None:
            i += 1
            continue
        std, length, digits = found
        separator = layout[i] if std.startswith("Frac") else ""
        chunks.append(Chunk(layout[start:i], std, layout[i : i + length], digits, separator))
        i += length
        start = i
    chunks.append(Chunk(layout[start:], "", ""))
    return chunks


# --------------------------------------------------------------------------- formatting


@dataclass(frozen=True, slots=True)
class Fields:
    """A broken-down local time."""

    year: int
    month: int
    day: int
    hour: int
    minute: int
    second: int
    weekday: int  # 0 = Sunday
    yearday: int  # 1-based
    offset: int  # seconds east of UTC
    zone: str


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (any year)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def utc_fields(timestamp: int) -> Fields:
    """`timestamp` (Unix seconds, any year) broken down in UTC."""
    days, rest = divmod(timestamp, 86400)
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (month <= 2)
    yearday = days - days_from_civil(year, 1, 1) + 1
    return Fields(
        year, month, day, rest // 3600, rest // 60 % 60, rest % 60, (days + 4) % 7, yearday, 0,
        "UTC",
    )  # fmt: skip


def local_fields(timestamp: int) -> Fields:
    """`timestamp` in the server's local time zone (TZ honoured); UTC when out of range."""
    try:
        t = time.localtime(timestamp)
    except (OverflowError, OSError, ValueError):
        return utc_fields(timestamp)
    return Fields(
        t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, (t.tm_wday + 1) % 7,
        t.tm_yday, t.tm_gmtoff or 0, t.tm_zone or "",
    )  # fmt: skip


def _pad(value: int, width: int) -> str:
    sign = "-" if value < 0 else ""
    return sign + str(abs(value)).zfill(width)


def _zone_text(std: str, offset: int) -> str:
    if std.startswith("ISO") and offset == 0:
        return "Z"
    sign = "-" if offset < 0 else "+"
    offset = abs(offset)
    minutes = offset // 60
    text = sign + _pad(minutes // 60, 2)
    colon = "Colon" in std
    if colon:
        text += ":"
    if "Short" not in std:
        text += _pad(minutes % 60, 2)
    if "Seconds" in std:
        text += (":" if colon else "") + _pad(offset % 60, 2)
    return text


def _format_element(chunk: Chunk, f: Fields) -> str:
    std = chunk.std
    hour12 = f.hour % 12 or 12
    simple = {
        "Year": lambda: _pad(f.year % 100, 2),
        "LongYear": lambda: _pad(f.year, 4),
        "Month": lambda: SHORT_MONTHS[f.month - 1],
        "LongMonth": lambda: LONG_MONTHS[f.month - 1],
        "NumMonth": lambda: str(f.month),
        "ZeroMonth": lambda: _pad(f.month, 2),
        "WeekDay": lambda: SHORT_DAYS[f.weekday],
        "LongWeekDay": lambda: LONG_DAYS[f.weekday],
        "Day": lambda: str(f.day),
        "UnderDay": lambda: str(f.day).rjust(2),
        "ZeroDay": lambda: _pad(f.day, 2),
        "UnderYearDay": lambda: str(f.yearday).rjust(3),
        "ZeroYearDay": lambda: _pad(f.yearday, 3),
        "Hour": lambda: _pad(f.hour, 2),
        "Hour12": lambda: str(hour12),
        "ZeroHour12": lambda: _pad(hour12, 2),
        "Minute": lambda: str(f.minute),
        "ZeroMinute": lambda: _pad(f.minute, 2),
        "Second": lambda: str(f.second),
        "ZeroSecond": lambda: _pad(f.second, 2),
        "PM": lambda: "PM" if f.hour >= 12 else "AM",
        "pm": lambda: "pm" if f.hour >= 12 else "am",
        # Whole seconds: a fixed fraction is all zeros, a trimmed one disappears.
        "FracSecond0": lambda: chunk.separator + "0" * chunk.digits,
        "FracSecond9": lambda: "",
    }
    if std in simple:
        return simple[std]()
    if std == "TZ":
        return f.zone or _zone_text("NumTZ", f.offset)
    return _zone_text(std, f.offset)


def format_time(timestamp: int, layout: str) -> str:
    """`timestamp` (Unix seconds) in the server's local zone, rendered with a Go layout."""
    fields = local_fields(timestamp)
    out: list[str] = []
    for chunk in split_layout(layout):
        out.append(chunk.prefix)
        if chunk.std:
            out.append(_format_element(chunk, fields))
    return "".join(out)


# --------------------------------------------------------------------------- parsing


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
    if not _is_digit(value, 0):
        raise _Bad
    count = 1
    while count < width and _is_digit(value, count):
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
    while _is_digit(value, end):
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


def _parse_element(chunk: Chunk, value: str, p: _Parsed, next_std: str) -> tuple[str, str]:
    """Consume one element from `value`; return (rest, range error name or "")."""
    std = chunk.std
    if std == "Year":
        if len(value) < 2 or not value[:2].isdigit() or not value[:2].isascii():
            raise _Bad
        year = int(value[:2])
        p.year = year + (1900 if year >= 69 else 2000)
        return value[2:], ""
    if std == "LongYear":
        if len(value) < 4 or not value[:4].isascii() or not value[:4].isdigit():
            raise _Bad
        p.year = int(value[:4])
        return value[4:], ""
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
        fraction = len(value) >= 2 and value[0] in ".," and _is_digit(value, 1)
        if fraction and not next_std.startswith("Frac"):
            end = 2
            while _is_digit(value, end):
                end += 1
            value = value[end:]
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
        if len(value) < 2 or value[0] not in ".," or not _is_digit(value, 1):
            return value, ""
        end = 1
        while _is_digit(value, end):
            end += 1
        return value[end:], ""
    p.offset, value = _parse_zone(std, value)
    return value, ""


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in(month: int, year: int) -> int:
    if month == 2 and _is_leap(year):
        return 29
    return _DAYS_BEFORE[month] - _DAYS_BEFORE[month - 1]


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
        if _DAYS_BEFORE[month] < yearday:
            month += 1
        day = yearday - _DAYS_BEFORE[month - 1]
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
