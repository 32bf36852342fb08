"""Service hours: when an objective's clock runs (SPEC 4).

Wall-clock ranges are turned into instants day by day with the calendar's own zone, so the
day the clocks go back has a 25-hour `00:00-24:00` and 08:00 always means 08:00 local.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

import holidays as holiday_sets
import numpy as np

from worker.domain.model import Calendar
from worker.scoring.intervals import Intervals, clip, normalise
from worker.scoring.periods import zone

_SUBDIVISION = {"england-and-wales": "ENG", "scotland": "SCT", "northern-ireland": "NIR"}


_SATURDAY = 5


@lru_cache(maxsize=256)
def public_holidays(holiday_set: str, year: int) -> frozenset[date]:
    """The bank holidays of one nation in one year as GOV.UK publishes them (SPEC 4).

    The `holidays` package lists a holiday that falls on a weekend twice: on the weekend day
    itself and on its weekday substitute ("Boxing Day (observed)"). GOV.UK lists only the
    substitute, and so does the SPEC: the weekend day is dropped. Every weekend holiday of the
    three nations has a substitute weekday, so nothing else is lost."""
    if holiday_set not in _SUBDIVISION:
        return frozenset()
    listed = holiday_sets.country_holidays("GB", subdiv=_SUBDIVISION[holiday_set], years=year)
    return frozenset(day for day in listed if day.weekday() < _SATURDAY)


def is_closed_day(calendar: Calendar, day: date) -> bool:
    """A public holiday of the calendar's set or a day listed in `closed`."""
    return day in calendar.closed or day in public_holidays(calendar.holidays, day.year)


def _wall_clock(day: date, minutes: int, tz: str) -> float:
    """Epoch seconds of `minutes` after local midnight of `day` read on the wall clock
    (1440 = the next midnight)."""
    extra_days, minutes = divmod(minutes, 1440)
    day = day + timedelta(days=extra_days)
    hour, minute = divmod(minutes, 60)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone(tz)).timestamp()


def open_intervals(calendar: Calendar, start_s: float, end_s: float) -> Intervals:
    """The calendar's open time within [start_s, end_s)."""
    if calendar.always:
        return Intervals.of([(start_s, end_s)])
    tz = zone(calendar.timezone)
    first = datetime.fromtimestamp(start_s, tz=timezone.utc).astimezone(tz).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end_s, tz=timezone.utc).astimezone(tz).date() + timedelta(days=1)
    pairs: list[tuple[float, float]] = []
    day = first
    while day <= last:
        if not is_closed_day(calendar, day):
            for start_min, end_min in calendar.hours[day.weekday()]:
                pairs.append((_wall_clock(day, start_min, calendar.timezone), _wall_clock(day, end_min, calendar.timezone)))
        day += timedelta(days=1)
    return clip(Intervals.of(pairs), start_s, end_s)


class OpenTime:
    """Open time of one calendar over any span, built in fixed chunks and remembered, so that
    thousands of incident clocks on the same calendar do not rebuild the same weeks."""

    _CHUNK_S = 28 * 86400.0

    def __init__(self, calendar: Calendar):
        self.calendar = calendar
        self._chunks: dict[int, Intervals] = {}

    def _chunk(self, index: int) -> Intervals:
        if index not in self._chunks:
            start = index * self._CHUNK_S
            self._chunks[index] = open_intervals(self.calendar, start, start + self._CHUNK_S)
        return self._chunks[index]

    def __call__(self, start_s: float, end_s: float) -> Intervals:
        first, last = int(start_s // self._CHUNK_S), int(end_s // self._CHUNK_S)
        parts = [self._chunk(i) for i in range(first, last + 1)]
        merged = normalise(np.concatenate([p.starts for p in parts]), np.concatenate([p.ends for p in parts]))
        return clip(merged, start_s, end_s)
