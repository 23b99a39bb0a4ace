"""Cron expressions with robfig/cron v3's rules, and their next fire time (platform §1.2–1.7).

Upstream validates with robfig's 5-field parser (no seconds, no descriptors), so this module
parses exactly like it: same accepted syntax (`*`, `?`, lists, ranges, steps, `JAN`–`DEC`,
`SUN`–`SAT`, weekdays 0–6 only, a `TZ=`/`CRON_TZ=` prefix) and the same error texts.
croniter computes fire times; it accepts more than robfig (weekday 7, `L`, descriptors,
6 fields), so we never hand it the user's text: the parsed fields are re-emitted as explicit
lists, with robfig's day-of-month/day-of-week OR rule decided here.

The scheduler and `GET /api/functions/{id}/next-run` both call `next_fire`, so the instant
shown is the instant that fires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter
from dateutil.tz import tzlocal

from lunard.golang import AtoiError, atoi

PREFIX = "invalid cron expression: "
FIELD_COUNT = 5
_STAR = 1 << 63  # robfig's starBit: the field was `*` or `?` (matters for the OR rule)

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_WEEKDAYS = {
    name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))
}


class CronError(ValueError):
    """An expression robfig would reject; `str()` is `invalid cron expression: <detail>`."""

    def __init__(self, detail: str) -> None:
        super().__init__(PREFIX + detail)
        self.detail = detail


@dataclass(frozen=True)
class _Bounds:
    low: int
    high: int
    names: dict[str, int] | None = None

    @property
    def full(self) -> int:
        return _bits(self.low, self.high, 1)


_MINUTE = _Bounds(0, 59)
_HOUR = _Bounds(0, 23)
_DOM = _Bounds(1, 31)
_MONTH = _Bounds(1, 12, _MONTHS)
_DOW = _Bounds(0, 6, _WEEKDAYS)
_FIELDS = (_MINUTE, _HOUR, _DOM, _MONTH, _DOW)


@dataclass(frozen=True)
class Schedule:
    """A parsed expression: one bit set per field (robfig layout) and an optional zone."""

    expression: str
    minute: int
    hour: int
    dom: int
    month: int
    dow: int
    location: tzinfo | None  # from a TZ=/CRON_TZ= prefix; None = the caller's zone

    def next_after(self, after: datetime, tz: tzinfo | str | None = None) -> datetime:
        """The first fire time strictly after `after` (aware, in the evaluation zone).

        The zone is the expression's prefix if any, else `tz` (a tzinfo, a zone name, or
        None/"" for the local zone). Raises CronError when the schedule never fires
        (e.g. `0 0 30 2 *`, which robfig accepts but can never match).
        """
        zone = self.location or (tz if isinstance(tz, tzinfo) else resolve_zone(tz or ""))
        start = after.astimezone(zone) if after.tzinfo else after.replace(tzinfo=zone)
        spec = self._croniter_spec()
        if spec is None:
            raise CronError(f"schedule never fires: {self.expression}")
        try:
            result: datetime = croniter(spec, start).get_next(datetime)
        except CroniterBadDateError:
            raise CronError(f"schedule never fires: {self.expression}") from None
        return result

    def _croniter_spec(self) -> str | None:
        """The same schedule in croniter syntax, or None if some field matches nothing."""
        fields = (self.minute, self.hour, self.dom, self.month, self.dow)
        if any(bits & ~_STAR == 0 for bits in fields):
            return None
        dom, dow = _day_fields(self.dom, self.dow)
        return " ".join(
            (
                _emit(self.minute, _MINUTE),
                _emit(self.hour, _HOUR),
                dom,
                _emit(self.month, _MONTH),
                dow,
            )
        )


def _day_fields(dom: int, dow: int) -> tuple[str, str]:
    """Day-of-month and day-of-week for croniter, keeping robfig's matching rule.

    robfig ANDs the two when either was written as `*`/`?`, otherwise ORs them. croniter
    (day_or) ORs two restricted fields and ignores a `*` one, so a restricted-but-full field
    in an OR must become `*` on both sides (it matches every day).
    """
    if dom & _STAR or dow & _STAR:
        return _emit(dom, _DOM), _emit(dow, _DOW)
    if dom & _DOM.full == _DOM.full or dow & _DOW.full == _DOW.full:
        return "*", "*"
    return _list(dom), _list(dow)


def _emit(bits: int, bounds: _Bounds) -> str:
    return "*" if bits & bounds.full == bounds.full else _list(bits)


def _list(bits: int) -> str:
    return ",".join(str(i) for i in range(63) if bits >> i & 1)


def _bits(low: int, high: int, step: int) -> int:
    bits = 0
    for i in range(low, high + 1, step):
        bits |= 1 << i
    return bits


def _parse_int(expr: str) -> int:
    """Go's `mustParseInt`: strconv.Atoi, then no negatives."""
    try:
        number = atoi(expr)
    except AtoiError as exc:
        raise CronError(f"failed to parse int from {expr}: {exc}") from None
    if number < 0:
        raise CronError(f"negative number ({number}) not allowed: {expr}")
    return number


def _parse_int_or_name(expr: str, bounds: _Bounds) -> int:
    if bounds.names is not None and expr.lower() in bounds.names:
        return bounds.names[expr.lower()]
    return _parse_int(expr)


def _parse_range(expr: str, bounds: _Bounds) -> int:
    """robfig's getRange: `*`, `?`, `n`, `a-b`, each optionally `/step`."""
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    extra = 0
    if low_and_high[0] in ("*", "?"):
        start, end, extra = bounds.low, bounds.high, _STAR
    else:
        start = _parse_int_or_name(low_and_high[0], bounds)
        if len(low_and_high) > 2:
            raise CronError(f"too many hyphens: {expr}")
        end = start if len(low_and_high) == 1 else _parse_int_or_name(low_and_high[1], bounds)
    if len(range_and_step) > 2:
        raise CronError(f"too many slashes: {expr}")
    step = 1
    if len(range_and_step) == 2:
        step = _parse_int(range_and_step[1])
        if len(low_and_high) == 1:  # "N/step" means "N-max/step"
            end = bounds.high
        if step > 1:
            extra = 0
    if start < bounds.low:
        raise CronError(f"beginning of range ({start}) below minimum ({bounds.low}): {expr}")
    if end > bounds.high:
        raise CronError(f"end of range ({end}) above maximum ({bounds.high}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    return _bits(start, end, step) | extra


def _parse_field(field: str, bounds: _Bounds) -> int:
    bits = 0
    for expr in (part for part in field.split(",") if part):
        bits |= _parse_range(expr, bounds)
    return bits


def _load_location(name: str) -> tzinfo:
    """Go's time.LoadLocation: "" and "UTC" are UTC, "Local" is the local zone."""
    if name in ("", "UTC"):
        return ZoneInfo("UTC")
    if name == "Local":
        return tzlocal()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CronError(f"provided bad location {name}: unknown time zone {name}") from None


def _split_zone(expr: str) -> tuple[str, tzinfo | None]:
    if not expr.startswith(("TZ=", "CRON_TZ=")):
        return expr, None
    space = expr.find(" ")
    equals = expr.find("=")
    if space < 0:  # robfig would panic slicing here; answer like a bad location instead
        name = expr[equals + 1 :]
        raise CronError(f"provided bad location {name}: no schedule after the time zone")
    return expr[space:].strip(), _load_location(expr[equals + 1 : space])


def parse(expr: str) -> Schedule:
    """Parse like robfig's `NewParser(Minute | Hour | Dom | Month | Dow)`; raise CronError."""
    if not expr:
        raise CronError("empty spec string")
    spec, location = _split_zone(expr)
    if spec.startswith("@"):
        raise CronError(f"parser does not accept descriptors: {spec}")
    fields = spec.split()
    if len(fields) != FIELD_COUNT:
        raise CronError(
            f"expected exactly {FIELD_COUNT} fields, found {len(fields)}: [{' '.join(fields)}]"
        )
    minute, hour, dom, month, dow = (
        _parse_field(field, bounds) for field, bounds in zip(fields, _FIELDS, strict=True)
    )
    return Schedule(expr, minute, hour, dom, month, dow, location)


def validate(expr: str) -> None:
    """Upstream's validateCronSchedule: `""` is allowed (no schedule), else it must parse."""
    if expr:
        parse(expr)


def resolve_zone(name: str) -> tzinfo:
    """The zone named by the `timezone` setting; empty means the process's local zone."""
    return ZoneInfo(name) if name else tzlocal()


def next_fire(expr: str, after: datetime, tz: tzinfo | str | None = None) -> datetime:
    """The next fire time of `expr` strictly after `after`; raises CronError."""
    return parse(expr).next_after(after, tz)


def _plural(count: int, unit: str) -> str:
    return f"in {count} {unit}" if count == 1 else f"in {count} {unit}s"


def next_run_human(next_run: datetime, now: datetime) -> str:
    """Upstream's FormatNextRun: `overdue`, `in less than a minute`, `in N minutes/hours/days`.

    Counts are whole units, truncated.
    """
    seconds = (next_run - now).total_seconds()
    if seconds < 0:
        return "overdue"
    if seconds < 60:
        return "in less than a minute"
    if seconds < 3600:
        return _plural(int(seconds // 60), "minute")
    if seconds < 86400:
        return _plural(int(seconds // 3600), "hour")
    return _plural(int(seconds // 86400), "day")
