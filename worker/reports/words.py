"""Plain English for reports: values, statuses, durations, dates and what an objective
measures. Pure; one place, so HTML, text, PDF and charts say the same thing in the same words.

Values are shown rounded DOWN to two decimals (SPEC 6): a breach never looks like a pass.
Statuses are always written out (GREEN, AMBER, RED, NO DATA) beside any colour.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone

from worker.domain.model import Calendar, Objective, ObjectiveType, Status
from worker.domain.time import format_duration
from worker.scoring.periods import parse_period, zone
from worker.scoring.results import floor2

STATUS_LABEL = {Status.GREEN: "GREEN", Status.AMBER: "AMBER", Status.RED: "RED", Status.NO_DATA: "NO DATA"}
STATUS_LETTER = {Status.GREEN: "G", Status.AMBER: "A", Status.RED: "R", Status.NO_DATA: "–"}
# NHS identity colours: background and the text colour that reads on it (WCAG AA contrast).
STATUS_COLOURS = {
    Status.GREEN: ("#007F3B", "#FFFFFF"),
    Status.AMBER: ("#FFB81C", "#212B32"),
    Status.RED: ("#D5281B", "#FFFFFF"),
    Status.NO_DATA: ("#768692", "#FFFFFF"),
}
# Worst first: a service's status is the worst of its objectives'.
SEVERITY = {Status.RED: 3, Status.AMBER: 2, Status.NO_DATA: 1, Status.GREEN: 0}
NHS_BLUE = "#005EB8"
DARK = "#212B32"
GREY = "#4C6272"
PALE = "#F0F4F5"
BORDER = "#D8DDE0"

QUADRANTS = ("decisions/internal", "decisions/external", "smarter/internal", "smarter/external")
QUADRANT_WORDS = {
    "decisions/internal": "Information for better decisions, within the organisation",
    "decisions/external": "Information for better decisions, outside the organisation",
    "smarter/internal": "Technology to work smarter, within the organisation",
    "smarter/external": "Technology to work smarter, outside the organisation",
}
AXIS_WORDS = {
    "decisions": "Information for better decisions",
    "smarter": "Technology to work smarter",
    "internal": "Within the organisation",
    "external": "Outside the organisation",
}
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_TYPE_WORDS = {
    ObjectiveType.AVAILABILITY: "Availability",
    ObjectiveType.LATENCY: "Response time",
    ObjectiveType.EVENTS: "Success rate",
}


def worst(statuses: list[Status]) -> Status | None:
    return max(statuses, key=SEVERITY.__getitem__) if statuses else None


def status_label(status: Status | None) -> str:
    return STATUS_LABEL[status] if status is not None else "—"


def percent(value: float | None) -> str:
    """99.4880… → `99.48%` (rounded down); no value → `no data`."""
    return "no data" if value is None else f"{floor2(value)}%"


def target_text(target: float) -> str:
    return f"{target:g}%"


def ratio_percent(value: float | None) -> str:
    return "—" if value is None else f"{floor2(100.0 * value)}%"


def duration(seconds: float) -> str:
    """Elapsed wall-clock time: `1 h 56 m`, `4 d 11 h` (an outage from start to end, a
    maintenance window)."""
    return format_duration(seconds)


def service_time(seconds: float) -> str:
    """Time counted inside service hours (outside excluded maintenance): `1 h 56 m`, and from a
    day on `107 service hours` — never in days, which would read as calendar days (107 hours
    of a Mon–Fri 08:00–18:00 calendar span more than two weeks)."""
    if seconds < 86400:
        return format_duration(seconds)
    hours = round(seconds / 3600.0, 1)
    return f"{hours:,g} service hours"


def in_service_hours(seconds: float) -> str:
    """`1 h 56 m in service hours`, `107 service hours`: counted time in a sentence."""
    words = service_time(seconds)
    return words if words.endswith("service hours") else f"{words} in service hours"


def period_label(period: str) -> str:
    year, month = parse_period(period)
    return f"{date(year, month, 1):%B %Y}"


def period_short(period: str) -> str:
    """`Oct 26`: column headings and chart ticks."""
    year, month = parse_period(period)
    return f"{date(year, month, 1):%b %y}"


def local(at: datetime | float, tz: str) -> datetime:
    if not isinstance(at, datetime):
        at = datetime.fromtimestamp(at, tz=timezone.utc)
    return at.astimezone(zone(tz))


def day_text(day: date) -> str:
    """`21 October 2026`."""
    return f"{day.day} {day:%B %Y}"


def _clock_change_day(when: datetime) -> bool:
    """Whether the local day of `when` has a clock change (its wall-clock times need the
    zone's abbreviation: 01:30 happens twice on the last Sunday of October in London)."""
    tz = when.tzinfo
    start = datetime(when.year, when.month, when.day, tzinfo=tz)
    following = (start.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=tz)
    return start.utcoffset() != following.utcoffset()


def moment(at: datetime | float, tz: str) -> str:
    """`Wed 21 Oct 10:04` in local time (`Sun 25 Oct 01:30 GMT` on a clock-change day)."""
    when = local(at, tz)
    text = f"{when:%a} {when.day} {when:%b %H:%M}"
    return f"{text} {when:%Z}" if _clock_change_day(when) else text


def span(start: datetime | float, end: datetime | float, tz: str) -> str:
    """`21 Oct 10:04–11:34` within a day, else `21 Oct 22:00 – 22 Oct 03:00`."""
    lo, hi = local(start, tz), local(end, tz)
    zone_lo = f" {lo:%Z}" if _clock_change_day(lo) else ""
    zone_hi = f" {hi:%Z}" if _clock_change_day(hi) else ""
    if lo.date() == hi.date():
        return f"{lo.day} {lo:%b %H:%M}{zone_lo}–{hi:%H:%M}{zone_hi}"
    return f"{lo.day} {lo:%b %H:%M}{zone_lo} – {hi.day} {hi:%b %H:%M}{zone_hi}"


def days_ahead(days: int) -> str:
    if days == 1:
        return "1 day"
    return f"{days} days"


def notice_text(seconds: float) -> str:
    """`5 days' notice`, `12 hours' notice`, `no notice`."""
    if seconds <= 0:
        return "no notice"
    if seconds % 86400 == 0:
        count, unit = int(seconds // 86400), "day"
    elif seconds % 3600 == 0:
        count, unit = int(seconds // 3600), "hour"
    else:
        return f"{duration(seconds)} notice"
    return f"{count} {unit}{'s' if count != 1 else ''}' notice"


def threshold_text(threshold_ms: float) -> str:
    """2000 → `2 s`, 1500 → `1.5 s`, 800 → `800 ms`."""
    if threshold_ms >= 1000:
        return f"{threshold_ms / 1000:g} s"
    return f"{threshold_ms:g} ms"


def calendar_words(calendar: Calendar) -> str:
    """`24/7`, or `Mon–Fri 08:00–18:00, Sat 09:00–12:30, not bank holidays`."""
    if calendar.always:
        return "24/7"
    groups: list[tuple[int, int, tuple[tuple[int, int], ...]]] = []
    for day, ranges in enumerate(calendar.hours):
        if not ranges:
            continue
        if groups and groups[-1][1] == day - 1 and groups[-1][2] == ranges:
            groups[-1] = (groups[-1][0], day, ranges)
        else:
            groups.append((day, day, ranges))
    parts = []
    for first, last, ranges in groups:
        days = _DAY_NAMES[first] if first == last else f"{_DAY_NAMES[first]}–{_DAY_NAMES[last]}"
        hours = ", ".join(f"{_clock(a)}–{_clock(b)}" for a, b in ranges)
        parts.append(f"{days} {hours}")
    if not parts:
        return "never open"
    if calendar.holidays != "none":
        parts.append("not bank holidays")
    return ", ".join(parts)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def measure_words(objective: Objective, calendar: Calendar | None) -> str:
    """What an objective measures, in plain words:
    `Availability, 24/7`; `Response within 2 s, Mon–Fri 08:00–18:00`;
    `P2 incidents resolved within 8 h (clock: Mon–Fri 08:00–18:00)`."""
    hours = calendar_words(calendar) if calendar is not None else objective.calendar
    kind = objective.type
    if kind is ObjectiveType.LATENCY:
        return f"Response within {threshold_text(objective.threshold_ms or 0.0)}, {hours}"
    if kind is ObjectiveType.INCIDENT_RESPONSE:
        return f"{objective.priority} incidents responded to within {duration(objective.within_s or 0.0)} (clock: {hours})"
    if kind is ObjectiveType.INCIDENT_RESOLUTION:
        return f"{objective.priority} incidents resolved within {duration(objective.within_s or 0.0)} (clock: {hours})"
    return f"{_TYPE_WORDS[kind]}, {hours}"


def short_measure(objective: Objective) -> str:
    """A few words for chart panels and narrow tables: `Availability`, `Response ≤ 2 s`,
    `P2 resolved ≤ 8 h`."""
    kind = objective.type
    if kind is ObjectiveType.LATENCY:
        return f"Response ≤ {threshold_text(objective.threshold_ms or 0.0)}"
    if kind is ObjectiveType.INCIDENT_RESPONSE:
        return f"{objective.priority} responded ≤ {duration(objective.within_s or 0.0)}"
    if kind is ObjectiveType.INCIDENT_RESOLUTION:
        return f"{objective.priority} resolved ≤ {duration(objective.within_s or 0.0)}"
    return _TYPE_WORDS[kind]


def missing_data_words(policy: str) -> str:
    return {
        "down": "counted as down under this agreement",
        "up": "counted as up under this agreement",
        "ignore": "left out of the figures under this agreement (the value covers measured time only)",
    }[policy]


def review_words(review_due: date | None, issued: date) -> tuple[str, int | None]:
    """(`review due in 34 days` | `review overdue by 5 days` | `next review 31 January 2027`,
    days until the review) — "due" from 90 days before."""
    if review_due is None:
        return "no review date set", None
    days = (review_due - issued).days
    if days < 0:
        return f"review overdue by {days_ahead(-days)} ({day_text(review_due)})", days
    if days == 0:
        return f"review due today ({day_text(review_due)})", days
    if days <= 90:
        return f"review due in {days_ahead(days)} ({day_text(review_due)})", days
    return f"next review {day_text(review_due)}", days


def supplier_part_words(supplier: str, targets: Sequence[float]) -> str:
    """`the supplier's part: North Network Services Ltd missed its 99.9 % contract` (SPEC 9.2)."""
    missed = " and ".join(f"{t:g} %" for t in targets)
    return f"the supplier's part: {supplier} missed its {missed} contract"
