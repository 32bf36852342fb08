"""Periods (calendar months in an agreement's zone), local days and effective dates (SPEC 4)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

from worker.domain.errors import InvalidValue
from worker.domain.model import Agreement

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_period(period: str) -> tuple[int, int]:
    match = _PERIOD.match(period or "")
    if not match:
        raise InvalidValue(f"expected a period YYYY-MM, got {period!r}")
    return int(match.group(1)), int(match.group(2))


def next_period(period: str) -> str:
    year, month = parse_period(period)
    return f"{year + month // 12}-{month % 12 + 1:02d}"


def previous_period(period: str) -> str:
    year, month = parse_period(period)
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def periods_back(period: str, count: int) -> list[str]:
    """`count` periods ending with `period`, oldest first."""
    result = [period]
    while len(result) < count:
        result.append(previous_period(result[-1]))
    return result[::-1]


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=4096)  # effective dates are asked for every objective of every run
def local_midnight(day: date, tz: str) -> float:
    """Epoch seconds of local midnight starting `day` in zone `tz`."""
    return datetime(day.year, day.month, day.day, tzinfo=zone(tz)).timestamp()


@lru_cache(maxsize=1024)  # asked for every result of every run
def period_bounds(period: str, tz: str) -> tuple[float, float]:
    """[start, end) of a period in epoch seconds: local midnight on the 1st to the next 1st."""
    year, month = parse_period(period)
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return local_midnight(first, tz), local_midnight(following, tz)


def period_of(at_s: float, tz: str) -> str:
    local = datetime.fromtimestamp(at_s, tz=timezone.utc).astimezone(zone(tz))
    return f"{local.year}-{local.month:02d}"


@lru_cache(maxsize=256)
def period_days(period: str, tz: str) -> tuple[list[date], np.ndarray]:
    """The local days of a period and their n + 1 boundaries in epoch seconds (shared: do
    not modify the returned values)."""
    year, month = parse_period(period)
    day = date(year, month, 1)
    days = []
    while day.month == month:
        days.append(day)
        day += timedelta(days=1)
    bounds = np.array([local_midnight(d, tz) for d in days] + [local_midnight(day, tz)])
    bounds.setflags(write=False)
    return days, bounds


def effective_bounds(agreement: Agreement) -> tuple[float, float]:
    """Effective dates as instants: `from` and `to` are inclusive local dates."""
    return _effective_bounds(agreement.timezone, agreement.effective_from, agreement.effective_to)


def _effective_bounds(tz: str, effective_from: date | None, effective_to: date | None) -> tuple[float, float]:
    start = local_midnight(effective_from, tz) if effective_from else -np.inf
    end = local_midnight(effective_to + timedelta(days=1), tz) if effective_to else np.inf
    return float(start), float(end)


def scored_window(agreement: Agreement, period: str) -> tuple[float, float] | None:
    """Period ∩ effective dates, or None when no day of the period is inside them."""
    return _scored_window(period, agreement.timezone, agreement.effective_from, agreement.effective_to)


@lru_cache(maxsize=4096)  # asked for every objective of every run
def _scored_window(period: str, tz: str, effective_from: date | None, effective_to: date | None) -> tuple[float, float] | None:
    start, end = period_bounds(period, tz)
    eff_start, eff_end = _effective_bounds(tz, effective_from, effective_to)
    lo, hi = max(start, eff_start), min(end, eff_end)
    return (lo, hi) if hi > lo else None
