"""The rules SPEC sections 4, 5 and 6 spell out exactly, one table or test per rule: UK bank
holidays as GOV.UK publishes them, half-open intervals everywhere, the default zone, and
events counted only where both counts exist. (Instants written with two offsets and incidents
replaced whole go through the real command: tests/inputs/test_inputs_cli.py.)"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from worker.config import load_catalogue
from worker.domain.model import Agreement, Calendar, Incident, MaintenanceWindow, Objective, ObjectiveType
from worker.scoring.calendars import OpenTime, is_closed_day, open_intervals, public_holidays
from worker.scoring.counted import counted_time
from worker.scoring.incidents import count, outcome
from worker.scoring.intervals import Intervals, contains
from worker.scoring.periods import period_bounds, period_days, period_of, scored_window
from worker.scoring.tallies import tally_availability, tally_events, tally_latency

UTC = timezone.utc
WEEKDAYS_8_TO_18 = (((480, 1080),),) * 5 + ((), ())
SAT_MORNINGS = ((),) * 5 + (((540, 750),), ())


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def s(text: str) -> float:
    return at(text).timestamp()


def calendar(holidays: str = "england-and-wales", hours=WEEKDAYS_8_TO_18, closed=()) -> Calendar:
    return Calendar("c", hours=hours, holidays=holidays, closed=frozenset(closed))


# --------------------------------------------------------------------------- SPEC 4: holidays

HOLIDAYS = [
    # (nation, day, closed by the holiday set) — GOV.UK's lists: the substitute weekday closes,
    # the weekend day itself does not
    ("england-and-wales", date(2026, 12, 25), True),  # Christmas Day, Friday
    ("england-and-wales", date(2026, 12, 26), False),  # Boxing Day falls on a Saturday ...
    ("england-and-wales", date(2026, 12, 28), True),  # ... its substitute is Monday 28 December
    ("england-and-wales", date(2027, 12, 25), False),  # Christmas Day 2027 is a Saturday
    ("england-and-wales", date(2027, 12, 26), False),  # Boxing Day 2027 a Sunday
    ("england-and-wales", date(2027, 12, 27), True),  # Christmas Day (substitute day)
    ("england-and-wales", date(2027, 12, 28), True),  # Boxing Day (substitute day)
    ("england-and-wales", date(2028, 1, 1), False),  # New Year's Day 2028, a Saturday
    ("england-and-wales", date(2028, 1, 3), True),  # its substitute
    ("england-and-wales", date(2026, 8, 31), True),  # Summer bank holiday
    ("england-and-wales", date(2026, 8, 3), False),  # Scotland's, not England's
    ("scotland", date(2026, 8, 3), True),
    ("scotland", date(2026, 4, 6), False),  # no Easter Monday in Scotland
    ("scotland", date(2027, 1, 2), False),  # 2nd January on a Saturday ...
    ("scotland", date(2027, 1, 4), True),  # ... substitute Monday 4 January
    ("scotland", date(2026, 11, 30), True),  # St Andrew's Day, Monday
    ("scotland", date(2026, 12, 26), False),
    ("scotland", date(2026, 12, 28), True),
    ("northern-ireland", date(2026, 3, 17), True),  # St Patrick's Day
    ("northern-ireland", date(2026, 7, 12), False),  # Battle of the Boyne on a Sunday ...
    ("northern-ireland", date(2026, 7, 13), True),  # ... substitute Monday 13 July
    ("northern-ireland", date(2027, 12, 25), False),
    ("northern-ireland", date(2027, 12, 27), True),
    ("none", date(2026, 12, 25), False),
]


@pytest.mark.parametrize(("nation", "day", "closed"), HOLIDAYS, ids=[f"{n}-{d}" for n, d, _ in HOLIDAYS])
def test_bank_holidays_are_the_days_gov_uk_publishes(nation: str, day: date, closed: bool):
    assert is_closed_day(calendar(nation), day) is closed


@pytest.mark.parametrize("nation", ["england-and-wales", "scotland", "northern-ireland"])
@pytest.mark.parametrize("year", range(2020, 2036))
def test_no_bank_holiday_of_any_nation_falls_on_a_weekend(nation: str, year: int):
    assert all(day.weekday() < 5 for day in public_holidays(nation, year))


def test_england_and_wales_2026_has_the_eight_gov_uk_bank_holidays():
    assert sorted(public_holidays("england-and-wales", 2026)) == [
        date(2026, 1, 1), date(2026, 4, 3), date(2026, 4, 6), date(2026, 5, 4),
        date(2026, 5, 25), date(2026, 8, 31), date(2026, 12, 25), date(2026, 12, 28),
    ]


def test_a_saturday_service_is_open_on_a_weekend_boxing_day_unless_listed_as_closed():
    saturdays = calendar(hours=SAT_MORNINGS)
    boxing_day = (s("2026-12-26T00:00:00Z"), s("2026-12-27T00:00:00Z"))
    assert open_intervals(saturdays, *boxing_day).pairs() == [(s("2026-12-26T09:00:00Z"), s("2026-12-26T12:30:00Z"))]
    closed_too = calendar(hours=SAT_MORNINGS, closed=[date(2026, 12, 26)])
    assert open_intervals(closed_too, *boxing_day).measure == 0


def test_office_hours_in_christmas_week_2027_close_monday_and_tuesday_only():
    week = (s("2027-12-27T00:00:00Z"), s("2028-01-01T00:00:00Z"))
    days = sorted({datetime.fromtimestamp(a, UTC).date() for a, _ in open_intervals(calendar(), *week).pairs()})
    assert days == [date(2027, 12, 29), date(2027, 12, 30), date(2027, 12, 31)]


# --------------------------------------------------------------------------- SPEC 4: half-open intervals

OFFICE = calendar()
OCT_6 = (s("2026-10-06T00:00:00+01:00"), s("2026-10-07T00:00:00+01:00"))  # a Tuesday


@pytest.mark.parametrize(
    ("instant", "inside"),
    [
        ("2026-10-06T07:59:59+01:00", False),
        ("2026-10-06T08:00:00+01:00", True),  # a range's start is inside it
        ("2026-10-06T17:59:59+01:00", True),
        ("2026-10-06T18:00:00+01:00", False),  # its end is not
    ],
)
def test_open_time_ranges_are_half_open(instant: str, inside: bool):
    assert bool(contains(open_intervals(OFFICE, *OCT_6), np.array([s(instant)]))[0]) is inside


def test_a_latency_sample_at_exactly_1800_is_outside_0800_1800_and_one_at_0800_inside():
    bounds = np.array(OCT_6)
    times = np.array([s("2026-10-06T08:00:00+01:00"), s("2026-10-06T18:00:00+01:00")])
    days = tally_latency(open_intervals(OFFICE, *OCT_6), bounds, times, np.array([100.0, 100.0]), 2000)
    assert days.total.tolist() == [1.0]


WINDOW = MaintenanceWindow("epr", at("2026-10-06T10:00:00+01:00"), at("2026-10-06T12:00:00+01:00"), at("2026-09-01T09:00:00Z"))


@pytest.mark.parametrize(
    ("instant", "counted"),
    [
        ("2026-10-06T09:59:59+01:00", True),
        ("2026-10-06T10:00:00+01:00", False),  # at a window's start: inside the window
        ("2026-10-06T11:59:59+01:00", False),
        ("2026-10-06T12:00:00+01:00", True),  # at its end: outside it
    ],
)
def test_maintenance_windows_are_half_open(instant: str, counted: bool):
    c = counted_time(OFFICE, OCT_6, [WINDOW])
    days = tally_latency(c, np.array(OCT_6), np.array([s(instant)]), np.array([5.0]), 2000)
    assert days.total.tolist() == [1.0 if counted else 0.0]


def test_an_up_sample_just_before_closing_counts_only_until_1800():
    bounds = np.array(OCT_6)
    days = tally_availability(
        open_intervals(OFFICE, *OCT_6), bounds, np.array([s("2026-10-06T17:59:00+01:00")]), np.array([0.0]), 300
    )
    assert days.down_s.tolist() == [60.0]


RESPOND = Objective("s", "desk", ObjectiveType.INCIDENT_RESPONSE, 90, "always", priority="P2", within_s=1800)
ALWAYS = Calendar("always", always=True)
FAR = s("2027-06-01T00:00:00Z")


def held(responded: str, start: str, end: str) -> Incident:
    return Incident("INC1", "desk", "P2", at("2026-10-06T09:00:00Z"), responded_at=at(responded), on_hold=((at(start), at(end)),))


@pytest.mark.parametrize(
    ("responded", "hold", "met"),
    [
        # the clock stops from an on-hold interval's start: 30 min reached at 09:30, the hold
        # beginning at 09:30 pauses nothing before the breach
        ("2026-10-06T09:30:00Z", ("2026-10-06T09:30:00Z", "2026-10-06T10:00:00Z"), True),
        ("2026-10-06T09:30:01Z", ("2026-10-06T09:30:00Z", "2026-10-06T10:00:00Z"), False),
        # and runs again from its end: held 09:00-09:30, the 30 minutes run 09:30-10:00
        ("2026-10-06T10:00:00Z", ("2026-10-06T09:00:00Z", "2026-10-06T09:30:00Z"), True),
        ("2026-10-06T10:00:01Z", ("2026-10-06T09:00:00Z", "2026-10-06T09:30:00Z"), False),
    ],
)
def test_on_hold_intervals_are_half_open(responded: str, hold: tuple[str, str], met: bool):
    found = outcome(held(responded, *hold), RESPOND, OpenTime(ALWAYS), FAR)
    assert found is not None and found.met is met


def test_effective_dates_are_inclusive_local_days_read_as_a_half_open_window():
    agreement = Agreement("a", "A", ("c1",), (), effective_from=date(2026, 10, 10), effective_to=date(2026, 10, 15))
    window = scored_window(agreement, "2026-10")
    assert window == (s("2026-10-10T00:00:00+01:00"), s("2026-10-16T00:00:00+01:00"))
    decided = [
        ("2026-10-09T23:59:59+01:00", False),
        ("2026-10-10T00:00:00+01:00", True),  # the first instant of `from` is inside
        ("2026-10-15T23:59:59+01:00", True),
        ("2026-10-16T00:00:00+01:00", False),  # the midnight after `to` is not
    ]
    for instant, inside in decided:
        found = outcome(
            Incident("INC1", "desk", "P2", at(instant) - timedelta(minutes=5), responded_at=at(instant)),
            RESPOND, OpenTime(ALWAYS), FAR,
        )
        assert count([found], "c1", window) == ((1, 0) if inside else (0, 0)), instant


def test_periods_are_half_open_an_instant_at_midnight_belongs_to_the_new_month():
    october, november = period_bounds("2026-10", "Europe/London"), period_bounds("2026-11", "Europe/London")
    assert october[1] == november[0]
    assert period_of(october[1], "Europe/London") == "2026-11"
    assert period_of(october[1] - 0.001, "Europe/London") == "2026-10"
    found = outcome(
        Incident("INC1", "desk", "P2", at("2026-10-31T23:50:00Z"), responded_at=at("2026-11-01T00:00:00Z")),
        RESPOND, OpenTime(ALWAYS), FAR,
    )
    assert count([found], "c1", october) == (0, 0)
    assert count([found], "c1", november) == (1, 0)


def test_a_sample_at_a_day_boundary_is_tallied_in_the_day_it_starts():
    days, bounds = period_days("2026-10", "Europe/London")
    c = Intervals.of([(bounds[0], bounds[-1])])
    midnight = bounds[5]  # 2026-10-06T00:00 local
    tally = tally_latency(c, bounds, np.array([midnight]), np.array([1.0]), 2000)
    assert tally.total[5] == 1.0 and tally.total[4] == 0.0
    assert days[5] == date(2026, 10, 6)


# --------------------------------------------------------------------------- SPEC 3/4: default zone


def test_calendars_and_agreements_without_a_zone_are_in_europe_london(tmp_path: Path):
    (tmp_path / "trust.yaml").write_text(
        """
calendars:
  - {id: office, hours: {mon-fri: ["08:00-18:00"]}}
services:
  - {id: epr, name: Electronic Patient Record}
customers:
  - {id: acute, name: Acute Services Directorate}
agreements:
  - id: core-2026
    name: Core clinical systems SLA 2026/27
    customers: [acute]
    effective: {from: 2026-04-01}
    objectives:
      - {service: epr, type: availability, target: 99.5, calendar: office}
""",
        encoding="utf-8",
    )
    catalogue = load_catalogue(tmp_path)
    office, core = catalogue.calendars["office"], catalogue.agreements["core-2026"]
    assert office.timezone == "Europe/London" and core.timezone == "Europe/London"
    # and it is used: 08:00 in October is 07:00Z (BST), the agreement starts at 2026-03-31T23:00Z
    assert open_intervals(office, *OCT_6).pairs()[0][0] == s("2026-10-06T07:00:00Z")
    assert scored_window(core, "2026-04") == (s("2026-03-31T23:00:00Z"), s("2026-04-30T23:00:00Z"))


# --------------------------------------------------------------------------- SPEC 6: events


def _events(good: dict[str, float], total: dict[str, float]) -> tuple[float, float]:
    bounds = np.array(OCT_6)
    c = Intervals.of([OCT_6])
    g_at = np.array(sorted(s(t) for t in good))
    t_at = np.array(sorted(s(t) for t in total))
    g_val = np.array([good[t] for t in sorted(good, key=s)])
    t_val = np.array([total[t] for t in sorted(total, key=s)])
    days = tally_events(c, bounds, g_at, g_val, t_at, t_val)
    return float(days.good.sum()), float(days.total.sum())


T1, T2, T3 = "2026-10-06T10:00:00+01:00", "2026-10-06T10:01:00+01:00", "2026-10-06T10:02:00+01:00"


@pytest.mark.parametrize(
    ("good", "total", "expected"),
    [
        ({T1: 90}, {T1: 100}, (90, 100)),  # a pair counts
        ({T1: 90}, {}, (0, 0)),  # a good without a total counts for nothing
        ({}, {T1: 100}, (0, 0)),  # a total without a good: not a timestamp with both, nothing
        ({T1: 90, T2: 5}, {T1: 100, T3: 50}, (90, 100)),  # only T1 has both
        ({T1: 90, T2: 5}, {T1: 100, T2: 10}, (95, 110)),
        # the same instant written another way is the same timestamp
        ({"2026-10-06T09:00:00Z": 7}, {T1: 8}, (7, 8)),
    ],
)
def test_events_count_only_timestamps_with_both_a_good_and_a_total(good, total, expected):
    assert _events(good, total) == expected


def test_events_outside_counted_time_do_not_count_even_in_pairs():
    c = open_intervals(OFFICE, *OCT_6)
    evening = s("2026-10-06T18:00:00+01:00")
    days = tally_events(c, np.array(OCT_6), np.array([evening]), np.array([1.0]), np.array([evening]), np.array([2.0]))
    assert (days.good.sum(), days.total.sum()) == (0.0, 0.0)
