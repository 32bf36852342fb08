"""Calendars: a time zone and weekly service hours (`24x7`, or days with ranges of times)."""

from __future__ import annotations

import re

import yaml

from worker.config.context import Context
from worker.config.fields import a_date, choice, ident, list_of, text, timezone
from worker.config.places import At, Checker, Refused, fields_of, is_null, nested
from worker.domain.model import DEFAULT_TIMEZONE, HOLIDAY_SETS, Calendar

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS_OPEN = "24x7"
_RANGE_RE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_NOT_FOR_ALWAYS = (
    f"does not apply to a {ALWAYS_OPEN} calendar, which is always open; "
    'write the hours as mon-sun: ["00:00-24:00"] instead'
)

Week = tuple[tuple[tuple[int, int], ...], ...]


def calendar(ctx: Context, ck: Checker, at: At) -> Calendar | None:
    fields = fields_of(ck, at)
    if fields is None:
        return None
    mark = ck.mark()
    calendar_id = fields.get("id", ident, required=True)
    zone = fields.get("timezone", timezone, DEFAULT_TIMEZONE)
    hours = fields.get("hours", nested(_hours), required=True)
    holidays = fields.get("holidays", choice(HOLIDAY_SETS), "none")
    closed = fields.get("closed", list_of(a_date, unique=True), [])
    fields.done()
    if hours == ALWAYS_OPEN:
        for key in ("holidays", "closed"):
            if fields.present(key):
                fields.refuse(key, _NOT_FOR_ALWAYS)
    if not ck.clean_since(mark):
        return None
    always = hours == ALWAYS_OPEN
    return Calendar(
        id=calendar_id,
        timezone=zone,
        always=always,
        hours=((),) * 7 if always else hours,
        holidays=holidays,
        closed=frozenset(closed),
    )


def _day_span(written: str) -> tuple[int, ...]:
    """`mon` → (0,), `mon-fri` → (0, 1, 2, 3, 4): day names in week order, Monday first."""
    names = written.split("-")
    if len(names) > 2 or any(day not in DAYS for day in names):
        raise Refused(f"{written!r} is not a day: use mon, tue, wed, thu, fri, sat, sun or a range such as mon-fri")
    first, last = DAYS.index(names[0]), DAYS.index(names[-1])
    if len(names) == 2 and first >= last:
        raise Refused(f"{written!r}: a range of days runs in week order from mon to sun, such as mon-fri or sat-sun")
    return tuple(range(first, last + 1))


def _minutes(hours: str, minutes: str, *, is_end: bool) -> int:
    h, m = int(hours), int(minutes)
    if h == 24 and m == 0 and is_end:
        return 1440
    if h > 23 or m > 59:
        raise Refused("is not a time of day (use 00:00 to 23:59, and 24:00 only as an end)")
    return h * 60 + m


def _time_range(at: At) -> tuple[int, int]:
    """`"08:00-18:00"` → (480, 1080) minutes after local midnight; `24:00` is the next midnight."""
    written = text(at).strip()
    match = _RANGE_RE.match(written)
    if not match:
        raise Refused(f'{written!r} is not a range of times such as "08:00-18:00"')
    try:
        start = _minutes(match[1], match[2], is_end=False)
        end = _minutes(match[3], match[4], is_end=True)
    except Refused as refused:
        raise Refused(f"{written!r} {refused.message}") from None
    if end <= start:
        raise Refused(
            f"{written!r} ends before it starts; for service past midnight split it, "
            f'such as "22:00-24:00" on one day and "00:00-06:00" on the next'
        )
    return start, end


def _day_ranges(at: At) -> list[tuple[int, int, At]]:
    """The ranges listed for one day key; a single range may be written without brackets."""
    if isinstance(at.node, yaml.ScalarNode):
        if is_null(at.node):
            return []
        return [(*_time_range(at), at)]
    return list_of(lambda item: (*_time_range(item), item))(at)


def _weekly_hours(ck: Checker, at: At) -> Week | None:
    """`hours:` → 7 sorted tuples of (start_min, end_min), Monday first. A day may appear under
    several keys (`mon-fri` and `wed`); overlapping ranges are refused because they usually
    mean a typo, and ranges that touch are joined."""
    fields = fields_of(ck, at)
    if fields is None:
        return None
    by_day: list[list[tuple[int, int, At]]] = [[] for _ in DAYS]
    for key in list(fields.keys):
        fields.asked.append(key)
        try:
            days = _day_span(key)
        except Refused as refused:
            ck.record(fields.keys[key], refused)
            continue
        try:
            ranges = _day_ranges(fields.values[key])
        except Refused as refused:
            ck.record(fields.values[key], refused)
            continue
        for day in days:
            by_day[day].extend(ranges)
    if not fields.keys:
        ck.refuse(at, f'lists no days: write {ALWAYS_OPEN} or days with times, such as mon-fri: ["08:00-18:00"]')
    overlaps: dict[tuple[At, At], list[str]] = {}
    week = tuple(_join_day(ranges, DAYS[day], overlaps) for day, ranges in enumerate(by_day))
    for (later, earlier), on_days in overlaps.items():
        where = f"(line {earlier.line}) on {', '.join(on_days)}"
        ck.refuse(later, f"{later.node.value} overlaps {earlier.node.value} {where}")
    return week


def _join_day(
    ranges: list[tuple[int, int, At]], day: str, overlaps: dict[tuple[At, At], list[str]]
) -> tuple[tuple[int, int], ...]:
    """One day's ranges sorted and joined; each overlap is noted once per pair, with its days."""
    joined: list[tuple[int, int]] = []
    previous: At | None = None
    for start, end, at in sorted(ranges, key=lambda r: (r[0], r[1])):
        if joined and previous is not None and start < joined[-1][1]:
            overlaps.setdefault((at, previous), []).append(day)
            continue
        if joined and start == joined[-1][1]:
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
        previous = at
    return tuple(joined)


def _hours(ck: Checker, at: At) -> Week | str | None:
    if isinstance(at.node, yaml.ScalarNode):
        if at.node.value == ALWAYS_OPEN:
            return ALWAYS_OPEN
        ck.refuse(at, f'must be {ALWAYS_OPEN} or days with times, such as mon-fri: ["08:00-18:00"]')
        return None
    return _weekly_hours(ck, at)
