"""Results: upserted by (agreement, customer, objective, period), on every engine in use."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from sqlalchemy import Engine, func, select

from worker.domain.model import ObjectiveType, Result, Status
from worker.storage.results import (
    load_results,
    load_results_range,
    result_computed_at,
    upsert_results,
)
from worker.storage.tables import results

COMPUTED = datetime(2026, 11, 1, 6, 0, tzinfo=timezone.utc)

AVAILABILITY = Result(
    period="2026-10",
    agreement="core-2026",
    customer="acute",
    service="epr",
    objective="epr-availability",
    type=ObjectiveType.AVAILABILITY,
    target=99.5,
    warning=99.8,
    value=99.73091050466479,
    status=Status.AMBER,
    good=2668434.0,
    bad=7200.0,
    total=2675634.0,
    unit="seconds",
    coverage=0.9976,
    error_budget_remaining=0.46185,
    final=True,
)


def test_scoring_twice_stores_each_result_once(engine: Engine) -> None:
    with engine.begin() as conn:
        upsert_results(conn, [AVAILABILITY], COMPUTED)
    with engine.begin() as conn:
        upsert_results(conn, [AVAILABILITY], COMPUTED)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(results)).scalar() == 1
        assert load_results(conn, "2026-10") == [AVAILABILITY]


def test_a_rescore_replaces_the_stored_result(engine: Engine) -> None:
    rescored = replace(AVAILABILITY, value=99.1, status=Status.RED, final=False)
    later = COMPUTED.replace(hour=7)
    with engine.begin() as conn:
        upsert_results(conn, [AVAILABILITY], COMPUTED)
        upsert_results(conn, [rescored], later)
    with engine.connect() as conn:
        assert load_results(conn, "2026-10") == [rescored]
        assert result_computed_at(conn, "2026-10") == {("core-2026", "acute", "epr-availability"): later}


def test_results_are_sorted_by_agreement_customer_objective_and_filtered(engine: Engine) -> None:
    no_data = replace(
        AVAILABILITY,
        customer="community",
        objective="epr-latency",
        type=ObjectiveType.LATENCY,
        warning=None,
        value=None,
        status=Status.NO_DATA,
        good=0.0,
        bad=0.0,
        total=0.0,
        unit="samples",
        coverage=None,
        error_budget_remaining=None,
        final=False,
    )
    other_agreement = replace(AVAILABILITY, agreement="a-first")
    community_availability = replace(AVAILABILITY, customer="community")
    september = replace(AVAILABILITY, period="2026-09")
    with engine.begin() as conn:
        upsert_results(conn, [AVAILABILITY, no_data, september, community_availability, other_agreement], COMPUTED)
    with engine.connect() as conn:
        assert load_results(conn, "2026-10") == [other_agreement, AVAILABILITY, community_availability, no_data]
        assert load_results(conn, "2026-10", customer="community") == [community_availability, no_data]
        assert load_results(conn, "2026-08") == []
        assert load_results_range(conn, ["2026-10", "2026-09"], customer="acute") == [
            september,
            other_agreement,
            AVAILABILITY,
        ]
        (stored_no_data,) = [r for r in load_results(conn, "2026-10") if r.value is None]
    assert stored_no_data.as_json() == no_data.as_json()


def test_an_incremental_write_leaves_a_result_with_the_same_figures_as_it_was(engine: Engine) -> None:
    other = replace(AVAILABILITY, objective="epr-latency")
    with engine.begin() as conn:
        upsert_results(conn, [AVAILABILITY, other], COMPUTED)
    later = COMPUTED.replace(hour=7)
    moved = replace(other, good=other.good + 60.0)
    new = replace(AVAILABILITY, customer="community")
    with engine.begin() as conn:
        upsert_results(conn, [AVAILABILITY, moved, new], later, changed_only=True)
    with engine.connect() as conn:
        assert load_results(conn, "2026-10") == [AVAILABILITY, moved, new]
        assert result_computed_at(conn, "2026-10") == {
            ("core-2026", "acute", "epr-availability"): COMPUTED,  # same figures: left as it was
            ("core-2026", "acute", "epr-latency"): later,
            ("core-2026", "community", "epr-availability"): later,
        }


def test_an_incremental_write_rewrites_a_result_whose_target_alone_changed(engine: Engine) -> None:
    with engine.begin() as conn:
        upsert_results(conn, [AVAILABILITY], COMPUTED)
    retargeted = replace(AVAILABILITY, target=99.9, warning=None)
    with engine.begin() as conn:
        upsert_results(conn, [retargeted], COMPUTED.replace(hour=7), changed_only=True)
    with engine.connect() as conn:
        assert load_results(conn, "2026-10") == [retargeted]
