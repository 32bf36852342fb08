"""Planning a scoring run (worker/scoring/plan.py): which days to re-tally, which objectives
share a computation, which samples to load. Plain values in tables; no database, no clock."""

import math

import pytest

from worker.domain.changes import Changes
from worker.scoring.intervals import Intervals
from worker.scoring.plan import Computation, DayPlan, Stored, Target, needs_scoring, plan_service, runs

DAY = 86_400.0
FOUR_DAYS = [0.0, DAY, 2 * DAY, 3 * DAY, 4 * DAY]  # a four-day period starting at 0
DONE = Stored("A", [True, True, True, True])  # a stored sheet made under basis A, every day tallied
ALL = ((0, 3),)
NOW = 10 * DAY  # after the period


@pytest.mark.parametrize(
    ("indexes", "expected"),
    [
        ([], ()),
        ([2], ((2, 2),)),
        ([0, 1, 2, 3], ((0, 3),)),
        ([0, 1, 2, 5, 7, 8], ((0, 2), (5, 5), (7, 8))),
    ],
)
def test_day_indexes_become_runs_of_consecutive_days(indexes, expected):
    assert runs(indexes) == expected


@pytest.mark.parametrize(
    ("case", "stored", "changed", "full", "expected"),
    [
        ("a full run redoes every day on a blank sheet", DONE, None, True, DayPlan(True, ALL)),
        ("nothing stored: every day, blank", None, (DAY + 10, DAY + 20), False, DayPlan(True, ALL)),
        ("stored under another basis: every day, blank", Stored("B", [True] * 4), None, False, DayPlan(True, ALL)),
        ("stored with another day count: every day, blank", Stored("A", [True] * 3), None, False, DayPlan(True, ALL)),
        ("all tallied, no new samples: nothing to do", DONE, None, False, DayPlan(False, ())),
        ("new samples inside one day: that day", DONE, (2 * DAY + 1000, 2 * DAY + 2000), False, DayPlan(False, ((2, 2),))),
        ("a sample near a day's start reaches back by the staleness", DONE, (2 * DAY + 100, 2 * DAY + 200), False, DayPlan(False, ((1, 2),))),
        ("a sample near a day's end reaches forward by the staleness", DONE, (DAY - 100, DAY - 50), False, DayPlan(False, ((0, 1),))),
        ("samples over several days: those days", DONE, (DAY + 1000, 3 * DAY - 1000), False, DayPlan(False, ((1, 2),))),
        ("samples after the period: nothing", DONE, (5 * DAY, 6 * DAY), False, DayPlan(False, ())),
        ("samples before the period: nothing", DONE, (-3 * DAY, -2 * DAY), False, DayPlan(False, ())),
        ("samples reaching past both ends: every day", DONE, (-DAY, 9 * DAY), False, DayPlan(False, ALL)),
        ("a day never tallied (not over at the last run) is redone", Stored("A", [True, True, False, True]), None, False, DayPlan(False, ((2, 2),))),
        ("untallied days and new samples together", Stored("A", [True, True, True, False]), (1000.0, 2000.0), False, DayPlan(False, ((0, 0), (3, 3)))),
    ],
)
def test_which_days_an_objective_re_tallies(case, stored, changed, full, expected):
    plan = plan_service([Target("A", FOUR_DAYS, stored)], 300.0, changed, full=full, now_s=NOW)
    assert plan.days == (expected,), case


OFFICE = Intervals.of([(d * DAY + 8 * 3600, d * DAY + 18 * 3600) for d in range(4)])  # 08:00-18:00 each day
RUNNING = Stored("A", [True, True, False, False], written_s=2 * DAY + 12 * 3600)  # written at noon on day 2


@pytest.mark.parametrize(
    ("case", "stored", "changed", "now_s", "final_from_s", "expected"),
    [
        ("samples at night, outside counted time: nothing, results kept", DONE, (DAY + 3600, DAY + 7200), NOW, math.inf, DayPlan(False, ())),
        ("samples within the staleness of counted time: that day", DONE, (DAY + 18 * 3600 + 100, DAY + 18 * 3600 + 200), NOW, math.inf, DayPlan(False, ((1, 1),))),
        ("samples inside counted time: that day", DONE, (DAY + 9 * 3600, DAY + 9 * 3600 + 60), NOW, math.inf, DayPlan(False, ((1, 1),))),
        ("the running day, counted time gone by since the sheet was written: redone", RUNNING, None, 2 * DAY + 13 * 3600, math.inf, DayPlan(False, ((2, 2),))),
        ("the running day, no counted time since the sheet was written: nothing", Stored("A", [True, True, False, False], written_s=2 * DAY + 18.5 * 3600), None, 2 * DAY + 20 * 3600, math.inf, DayPlan(False, ())),
        ("counted time gone by into the next day: both days", RUNNING, None, 3 * DAY + 9 * 3600, math.inf, DayPlan(False, ((2, 3),))),
        ("the period turned final since the sheet was written: results made again", DONE, None, NOW, 5 * DAY, DayPlan(False, (), refinal=True)),
        ("the period was final when the sheet was written: nothing", Stored("A", [True] * 4, written_s=6 * DAY), None, NOW, 5 * DAY, DayPlan(False, ())),
    ],
)
def test_an_incremental_run_redoes_only_what_can_have_changed_an_objectives_figures(case, stored, changed, now_s, final_from_s, expected):
    target = Target("A", FOUR_DAYS, stored, OFFICE, final_from_s)
    plan = plan_service([target], 300.0, changed, full=False, now_s=now_s)
    assert plan.days == (expected,), case
    assert plan.days[0].scored == bool(expected.runs or expected.refinal), case


@pytest.mark.parametrize(
    ("case", "targets", "expected"),
    [
        (
            "two agreements, one basis, same days: one computation by the first",
            [Target("A", FOUR_DAYS), Target("A", FOUR_DAYS)],
            (Computation("A", 0, 3, 0),),
        ),
        (
            "two bases: one computation each",
            [Target("A", FOUR_DAYS), Target("B", FOUR_DAYS)],
            (Computation("A", 0, 3, 0), Computation("B", 0, 3, 1)),
        ),
        (
            "one basis, different days to redo: one computation per run",
            [Target("A", FOUR_DAYS, Stored("A", [True, True, False, True])), Target("A", FOUR_DAYS)],
            (Computation("A", 2, 2, 0), Computation("A", 0, 3, 1)),
        ),
        (
            "nothing to redo: no computation",
            [Target("A", FOUR_DAYS, DONE), Target("A", FOUR_DAYS, DONE)],
            (),
        ),
    ],
)
def test_objectives_with_the_same_basis_share_one_computation(case, targets, expected):
    assert plan_service(targets, 300.0, None, full=False, now_s=NOW).computations == expected, case


@pytest.mark.parametrize(
    ("case", "targets", "changed", "expected"),
    [
        ("nothing planned: nothing to load", [Target("A", FOUR_DAYS, DONE)], None, None),
        ("every day: from the period's start − staleness to its end", [Target("A", FOUR_DAYS)], None, (-300.0, 4 * DAY)),
        ("one day: that day, from its start − staleness", [Target("A", FOUR_DAYS, DONE)], (2 * DAY + 1000, 2 * DAY + 2000), (2 * DAY - 300, 3 * DAY)),
        (
            "several objectives: from the earliest planned day to the latest",
            [Target("A", FOUR_DAYS, Stored("A", [False, True, True, True])), Target("B", FOUR_DAYS, Stored("B", [True, True, True, False]))],
            None,
            (-300.0, 4 * DAY),
        ),
        (
            "objectives in zones with other day boundaries: the widest span",
            [Target("A", FOUR_DAYS), Target("B", [b + 3600 for b in FOUR_DAYS])],
            None,
            (-300.0, 4 * DAY + 3600),
        ),
    ],
)
def test_the_samples_to_load_cover_every_planned_day_and_the_staleness_before(case, targets, changed, expected):
    assert plan_service(targets, 300.0, changed, full=False, now_s=NOW).load_span == expected, case


def changes(*rows: tuple[str, str]) -> Changes:
    found = Changes()
    for kind, service in rows:
        found.add(kind, service, 0.0, 1.0)
    return found


@pytest.mark.parametrize(
    ("case", "is_incident", "pending", "expected"),
    [
        ("a full run scores every objective", False, None, True),
        ("a full run scores incident objectives too", True, None, True),
        ("new samples of the service: its sample objectives", False, changes(("samples", "epr")), True),
        ("new samples of the service: not its incident objectives", True, changes(("samples", "epr")), False),
        ("new maintenance of the service: its sample objectives", False, changes(("maintenance", "epr")), True),
        ("new incidents of the service: its incident objectives", True, changes(("incidents", "epr")), True),
        ("new incidents of the service: not its sample objectives", False, changes(("incidents", "epr")), False),
        ("another service's samples: nothing", False, changes(("samples", "pacs")), False),
    ],
)
def test_which_objectives_new_input_touches(case, is_incident, pending, expected):
    assert needs_scoring("epr", is_incident, pending) is expected, case


@pytest.mark.parametrize(
    ("case", "holds", "expected"),
    [
        ("an `up` sample's hold reaches past midnight: that day and the next", True, DayPlan(False, ((1, 2),))),
        ("a latency sample counts at its instant only: that day alone", False, DayPlan(False, ((1, 1),))),
    ],
)
def test_new_samples_reach_the_next_day_only_through_a_hold(case, holds, expected):
    target = Target("A", FOUR_DAYS, DONE, holds=holds)  # all time counts
    plan = plan_service([target], 300.0, (2 * DAY - 120, 2 * DAY - 60), full=False, now_s=NOW)
    assert plan.days == (expected,), case
