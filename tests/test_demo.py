"""`sla-worker demo`: 13 months of synthetic history for the example trust, ingested through
the real pipeline and scored, on every database engine in use."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from worker.config import load_catalogue
from worker.demo import DemoSummary, run_demo, summary_table
from worker.domain.model import Catalogue, ObjectiveType, Result, Status
from worker.scoring.periods import period_bounds, periods_back, scored_window
from worker.storage import incidents as incident_store
from worker.storage.samples import sample_count
from worker.storage.tables import maintenance
from worker.usecases.results import read_results

CONFIG = Path(__file__).resolve().parents[1] / "config" / "example"
NOW = datetime(2026, 11, 15, 10, 0, tzinfo=timezone.utc)
BAD_MONTH = "2026-07"  # four months before NOW's month
ORDINARY_MONTH = "2026-09"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(CONFIG)


def by_customer(summary: DemoSummary, period: str, objective: str) -> dict[str, Result]:
    return {r.customer: r for r in summary.history[period] if r.objective == objective}


def expected_keys(catalogue: Catalogue, period: str) -> set[tuple[str, str, str]]:
    return {
        (a.id, customer, o.id)
        for a in catalogue.agreements.values()
        if scored_window(a, period) is not None
        for customer in a.customers
        for o in a.objectives
    }


def test_full_demo_scores_thirteen_months_with_every_objective_inside_its_effective_dates(engine: Engine, catalogue: Catalogue):
    messages: list[str] = []
    summary = run_demo(engine, catalogue, NOW, messages.append)

    assert summary.periods == tuple(periods_back("2026-11", 13))
    assert summary.last_complete_period == "2026-10" and summary.bad_period == BAD_MONTH
    for period in summary.periods:
        assert sum(m.startswith(f"{period}: ingested") for m in messages) == 1
        assert sum(m.startswith(f"{period}: scored") for m in messages) == 1
        stored = read_results(engine, period)
        assert {(r.agreement, r.customer, r.objective) for r in stored} == expected_keys(catalogue, period)
        assert tuple(stored) == summary.history[period]
    # last year's agreements (to 2026-03-31) and this year's (from 2026-04-01) cover every month
    assert all(summary.history[p] for p in summary.periods)
    assert summary.results == summary.history["2026-10"]
    assert all(r.final for p in summary.periods[:-1] for r in summary.history[p])
    assert not any(r.final for r in summary.history["2026-11"])
    with engine.connect() as conn:
        assert sample_count(conn) == summary.samples
        assert conn.execute(select(func.count()).select_from(maintenance)).scalar_one() == summary.maintenance
    assert summary.samples > 1_500_000 and summary.incidents > 500 and summary.maintenance >= 13


def test_bad_month_turns_epr_availability_red_for_every_core_customer_while_an_ordinary_month_is_green(
    engine: Engine, catalogue: Catalogue
):
    summary = run_demo(engine, catalogue, NOW, months=5)

    assert summary.periods == ("2026-07", "2026-08", "2026-09", "2026-10", "2026-11")
    bad = by_customer(summary, BAD_MONTH, "epr-availability")
    ordinary = by_customer(summary, ORDINARY_MONTH, "epr-availability")
    assert set(bad) == set(ordinary) == set(catalogue.agreements["core-2026"].customers)
    assert all(r.status is Status.RED and r.bad >= 6 * 3600 for r in bad.values())
    assert all(r.status is Status.GREEN for r in ordinary.values())
    assert all(r.status is Status.RED for r in by_customer(summary, BAD_MONTH, "pacs-availability").values())
    assert all(r.status is Status.RED for r in by_customer(summary, BAD_MONTH, "desk-resolve-p1").values())


def test_planned_maintenance_is_excluded_while_short_notice_and_emergency_windows_count(engine: Engine, catalogue: Catalogue):
    summary = run_demo(engine, catalogue, NOW, months=5)

    # EPR's monthly two-hour patch window, announced in time, is left out of counted time
    start, end = period_bounds(ORDINARY_MONTH, "Europe/London")
    for r in by_customer(summary, ORDINARY_MONTH, "epr-availability").values():
        assert r.total == end - start - 2 * 3600 and r.coverage == 1.0
    # 30 minutes of ePMA patching announced a day ahead (7 days' notice needed) counts
    for r in by_customer(summary, ORDINARY_MONTH, "eprescribing-availability").values():
        assert r.bad >= 30 * 60 and r.status is not Status.GREEN
    # 90 minutes of emergency work on pathology counts, however early it was announced
    assert all(r.bad >= 90 * 60 for r in by_customer(summary, "2026-08", "pathology-availability").values())


def test_demo_incidents_cover_every_priority_with_met_breached_on_hold_one_customer_and_open_ones(
    engine: Engine, catalogue: Catalogue
):
    summary = run_demo(engine, catalogue, NOW, months=5)

    incident_results = [r for p in summary.periods for r in summary.history[p] if r.type.is_incident]
    assert sum(r.good for r in incident_results) > 0, "no incident met its target"
    assert sum(r.bad for r in incident_results) > 0, "no incident breached its target"
    assert {r.type for r in incident_results} == {ObjectiveType.INCIDENT_RESPONSE, ObjectiveType.INCIDENT_RESOLUTION}
    with engine.connect() as conn:
        stored = incident_store.load_incidents(conn)
    assert len(stored) == summary.incidents
    assert {i.priority for i in stored} == {"P1", "P2", "P3", "P4", "P5"}
    assert {i.service for i in stored} == {"servicedesk"}
    assert any(i.on_hold for i in stored)
    assert {i.customer for i in stored} > {None}
    still_open = [i for i in stored if i.resolved_at is None]
    assert len(still_open) >= 2
    assert all(max(t for t in (i.opened_at, i.responded_at, i.resolved_at) if t) <= NOW for i in stored)


def test_running_the_demo_twice_gives_identical_results(engine: Engine, catalogue: Catalogue):
    first = run_demo(engine, catalogue, NOW, months=2)
    first_stored = {p: read_results(engine, p) for p in first.periods}
    with engine.connect() as conn:
        first_samples = sample_count(conn)
        first_incidents = incident_store.load_incidents(conn)

    second = run_demo(engine, catalogue, NOW, months=2)

    assert second == first
    assert {p: read_results(engine, p) for p in second.periods} == first_stored
    with engine.connect() as conn:
        assert sample_count(conn) == first_samples
        assert incident_store.load_incidents(conn) == first_incidents


def test_summary_table_shows_the_last_complete_month_rounded_down_with_a_year_of_statuses():
    def result(period: str, customer: str, value: float | None, status: Status) -> Result:
        return Result(
            period, "core-2026", customer, "epr", "epr-availability", ObjectiveType.AVAILABILITY, 99.5, 99.8,
            value, status, 0.0, 0.0, 0.0, "seconds", 1.0, 0.5, period != "2026-11",
        )

    periods = tuple(periods_back("2026-11", 13))
    history = {p: (result(p, "acute", 99.9, Status.GREEN),) for p in periods[5:]}
    history[BAD_MONTH] = (result(BAD_MONTH, "acute", 99.499999, Status.RED),)
    history["2026-10"] = (result("2026-10", "acute", 99.799999, Status.AMBER),)
    history["2026-11"] = (result("2026-11", "acute", None, Status.NO_DATA),)
    summary = DemoSummary(NOW, periods, BAD_MONTH, 10, 2, 1, {p: history.get(p, ()) for p in periods})

    lines = summary_table(summary).splitlines()

    row = next(line for line in lines if line.startswith("core-2026"))
    assert row.split() == [
        "core-2026", "acute", "epr-availability", "99.5%", "99.79%", "amber", "50.00%", "100.00%", ".....GGGRGGA", "-",
    ]
    header = next(line for line in lines if line.startswith("agreement"))
    assert "2026-10" in header and "NDJFMAMJJASO" in header


def test_full_demo_table_has_one_row_per_agreement_customer_and_objective(engine: Engine, catalogue: Catalogue):
    summary = run_demo(engine, catalogue, NOW, months=2)
    table = summary_table(summary)
    rows = [line for line in table.splitlines() if line.split()[:1] and line.split()[0] in catalogue.agreements]
    assert len(rows) == len(expected_keys(catalogue, "2026-10"))
