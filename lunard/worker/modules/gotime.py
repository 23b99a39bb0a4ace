"""Go reference-time layouts (`2006-01-02 15:04:05 MST`): the layout elements and formatting.

A port of the layout rules of Go's `time` package that Lunar's `time.format`/`time.parse`
expose (lua-runtime §6.8); parsing, with Go's leniencies and error texts, is in
`gotime_parse`. strftime cannot express these layouts, hence our own code. Times are whole
Unix seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

LONG_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December",
)  # fmt: skip
LONG_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
SHORT_MONTHS = tuple(name[:3] for name in LONG_MONTHS)
SHORT_DAYS = tuple(name[:3] for name in LONG_DAYS)
DAYS_BEFORE = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365)

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


def is_digit(text: str, index: int) -> bool:
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
        if not is_digit(layout, end):
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
