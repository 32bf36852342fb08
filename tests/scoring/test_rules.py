"""The scoring rules of SPEC 6, one behaviour per test, on plain values."""

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from worker.domain.model import (
    Agreement,
    Calendar,
    Incident,
    MaintenanceWindow,
    MissingData,
    Objective,
    ObjectiveType,
    Status,
)
from worker.scoring.calendars import OpenTime, open_intervals
from worker.scoring.counted import is_excluded
from worker.scoring.incidents import count, outcome
from worker.scoring.periods import period_bounds, period_days, scored_window
from worker.scoring.results import Tally, availability_score, error_budget_remaining, floor2, status_of

UTC = timezone.utc
OFFICE = Calendar(
    "office", hours=((((480, 1080),),) * 5) + ((), ()), holidays="england-and-wales", closed=frozenset({date(2026, 12, 24)})
)
ALWAYS = Calendar("always", always=True)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("period", "hours"),
    [("2026-10", 745), ("2026-03", 743), ("2026-02", 672), ("2026-04", 720), ("2026-12", 744), ("2028-02", 696)],
)
def test_a_period_is_the_local_calendar_month_including_clock_changes(period, hours):
    start, end = period_bounds(period, "Europe/London")
    assert (end - start) / 3600 == hours


def test_october_2026_starts_at_2300_utc_on_the_last_day_of_september():
    start, end = period_bounds("2026-10", "Europe/London")
    assert datetime.fromtimestamp(start, UTC) == datetime(2026, 9, 30, 23, tzinfo=UTC)
    assert datetime.fromtimestamp(end, UTC) == datetime(2026, 11, 1, tzinfo=UTC)


def test_the_day_clocks_go_back_lasts_25_hours():
    days, bounds = period_days("2026-10", "Europe/London")
    assert (bounds[days.index(date(2026, 10, 25)) + 1] - bounds[days.index(date(2026, 10, 25))]) == 25 * 3600


def test_a_whole_day_calendar_is_open_25_hours_on_the_day_clocks_go_back():
    whole_day = Calendar("day", hours=(((0, 1440),),) * 7)
    start, end = at("2026-10-25T00:00:00+01:00").timestamp(), at("2026-10-26T00:00:00+00:00").timestamp()
    assert open_intervals(whole_day, start, end).measure == 25 * 3600


def test_office_hours_stay_0800_to_1800_local_either_side_of_the_clock_change():
    start, end = period_bounds("2026-10", "Europe/London")
    pairs = open_intervals(OFFICE, start, end).pairs()
    assert datetime.fromtimestamp(pairs[0][0], UTC) == datetime(2026, 10, 1, 7, tzinfo=UTC)  # 08:00 BST
    assert datetime.fromtimestamp(pairs[-1][0], UTC) == datetime(2026, 10, 30, 8, tzinfo=UTC)  # 08:00 GMT
    assert len(pairs) == 22  # weekdays in October 2026, no bank holiday


def test_bank_holidays_and_closed_days_are_not_open():
    start, end = period_bounds("2026-12", "Europe/London")
    open_days = {datetime.fromtimestamp(s, UTC).date() for s, _ in open_intervals(OFFICE, start, end).pairs()}
    assert date(2026, 12, 24) not in open_days  # closed
    assert date(2026, 12, 25) not in open_days and date(2026, 12, 28) not in open_days  # Christmas, Boxing Day (sub)
    assert date(2026, 12, 23) in open_days


def test_open_time_in_chunks_equals_open_time_built_in_one_go():
    start, end = at("2026-09-20T00:00:00Z").timestamp(), at("2027-01-10T00:00:00Z").timestamp()
    assert OpenTime(OFFICE)(start, end).pairs() == open_intervals(OFFICE, start, end).pairs()


def window(start: str, announced: str | None, emergency: bool = False) -> MaintenanceWindow:
    begin = at(start)
    return MaintenanceWindow("epr", begin, begin + timedelta(hours=2), at(announced) if announced else None, "x", emergency)


@pytest.mark.parametrize(
    ("announced", "emergency", "excluded"),
    [
        ("2026-10-06T22:00:00+01:00", False, True),  # exactly five days before: in time
        ("2026-10-06T22:00:01+01:00", False, False),  # one second late: counts as downtime
        ("2026-09-01T09:00:00+01:00", True, False),  # emergency work always counts
        (None, False, False),  # never announced
    ],
)
def test_maintenance_is_excluded_only_when_announced_in_time_and_not_an_emergency(announced, emergency, excluded):
    assert is_excluded(window("2026-10-11T22:00:00+01:00", announced, emergency), 5 * 86400) is excluded


@pytest.mark.parametrize(
    ("policy", "good", "bad", "total"),
    [(MissingData.IGNORE, 80, 10, 90), (MissingData.DOWN, 80, 20, 100), (MissingData.UP, 90, 10, 100)],
)
def test_seconds_without_data_follow_the_missing_data_policy(policy, good, bad, total):
    score = availability_score(Tally(up_s=80, down_s=10, counted_s=100), policy)
    assert (score.good, score.bad, score.total, score.coverage) == (good, bad, total, 0.9)


def test_error_budget_goes_negative_when_overspent_and_target_100_is_all_or_nothing():
    # (bad, W = the whole period's total, target)
    assert error_budget_remaining(2, 100, 99) == pytest.approx(-1.0)
    assert error_budget_remaining(0, 100, 100) == 1.0
    assert error_budget_remaining(1, 100, 100) == 0.0
    assert error_budget_remaining(0, 0, 99) is None


@pytest.mark.parametrize(
    ("value", "status"),
    [(None, Status.NO_DATA), (99.49999999, Status.RED), (99.5, Status.AMBER), (99.79, Status.AMBER), (99.8, Status.GREEN)],
)
def test_status_is_decided_on_the_unrounded_value(value, status):
    assert status_of(value, 99.5, 99.8) is status


@pytest.mark.parametrize(("value", "shown"), [(99.499999999, "99.49"), (99.29, "99.29"), (100.0, "100.00"), (0.019, "0.01")])
def test_values_are_shown_rounded_down_so_a_breach_never_looks_met(value, shown):
    assert floor2(value) == Decimal(shown)


def agreement(effective_from: date | None = None) -> Agreement:
    return Agreement("a", "A", ("c1", "c2"), (), effective_from=effective_from)


def test_an_agreement_starting_mid_month_is_scored_from_its_first_day():
    lo, _ = scored_window(agreement(date(2026, 10, 15)), "2026-10")
    assert datetime.fromtimestamp(lo, UTC) == datetime(2026, 10, 14, 23, tzinfo=UTC)


def test_a_period_before_the_agreement_starts_has_no_result():
    assert scored_window(agreement(date(2026, 11, 1)), "2026-10") is None


RESOLVE_P2 = Objective("r", "desk", ObjectiveType.INCIDENT_RESOLUTION, 90, "office", priority="P2", within_s=8 * 3600)
RESPOND_P2 = Objective("s", "desk", ObjectiveType.INCIDENT_RESPONSE, 90, "office", priority="P2", within_s=1800)


def incident(opened: str, responded: str | None = None, resolved: str | None = None, on_hold=(), customer=None):
    return Incident(
        "INC1", "desk", "P2", at(opened), customer,
        at(responded) if responded else None, at(resolved) if resolved else None,
        tuple((at(a), at(b)) for a, b in on_hold),
    )


NOW = at("2027-01-01T00:00:00Z").timestamp()


def test_incident_clock_runs_in_service_hours_only_and_breaches_at_the_exact_moment():
    found = outcome(incident("2026-10-06T10:00:00+01:00", resolved="2026-10-07T12:00:00+01:00"), RESOLVE_P2, OpenTime(OFFICE), NOW)
    assert not found.met
    assert found.decisive_s == at("2026-10-06T18:00:00+01:00").timestamp()


def test_on_hold_time_pauses_the_clock():
    held = incident(
        "2026-10-08T16:00:00+01:00", resolved="2026-10-09T15:30:00+01:00",
        on_hold=[("2026-10-09T08:00:00+01:00", "2026-10-09T11:00:00+01:00")],
    )
    assert outcome(held, RESOLVE_P2, OpenTime(OFFICE), NOW).met


def test_an_incident_stopped_exactly_at_the_breach_moment_is_met():
    found = outcome(incident("2026-10-05T09:00:00+01:00", "2026-10-05T09:30:00+01:00"), RESPOND_P2, OpenTime(OFFICE), NOW)
    assert found.met


def test_an_open_incident_counts_as_breached_in_the_month_it_breached():
    open_one = incident("2026-10-30T16:00:00+00:00")
    found = outcome(open_one, RESOLVE_P2, OpenTime(OFFICE), NOW)
    assert not found.met and found.decisive_s == at("2026-11-02T14:00:00+00:00").timestamp()
    october = period_bounds("2026-10", "Europe/London")
    november = period_bounds("2026-11", "Europe/London")
    assert count([found], "c1", october) == (0, 0)
    assert count([found], "c1", november) == (0, 1)


def test_an_open_incident_not_yet_breached_is_not_counted():
    still_inside = at("2026-11-02T13:59:00+00:00").timestamp()
    assert outcome(incident("2026-10-30T16:00:00+00:00"), RESOLVE_P2, OpenTime(OFFICE), still_inside) is None


def test_a_customer_scoped_incident_counts_only_for_that_customer():
    found = outcome(incident("2026-10-05T09:00:00+01:00", resolved="2026-10-05T10:00:00+01:00", customer="c2"), RESOLVE_P2, OpenTime(OFFICE), NOW)
    october = period_bounds("2026-10", "Europe/London")
    assert count([found], "c1", october) == (0, 0)
    assert count([found], "c2", october) == (1, 0)


def test_an_incident_on_a_calendar_that_never_opens_is_never_breached():
    never = Calendar("never", hours=((),) * 7)
    assert outcome(incident("2026-10-05T09:00:00+01:00"), RESOLVE_P2, OpenTime(never), NOW) is None
