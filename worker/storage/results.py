"""Results: one row per (agreement, customer, objective, period), written by upsert so that
scoring the same inputs again leaves the same rows (SPEC section 6)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Row

from worker.domain.model import AgreementKind, ObjectiveType, Result, Status
from worker.storage.tables import results as results_table
from worker.storage.tables import upsert

_KEYS = ["agreement", "customer", "objective", "period"]


_FIGURES = ["service", "type", "target", "warning", "value", "status", "good", "bad", "total", "unit", "coverage",
            "error_budget_remaining", "final", "kind"]


def upsert_results(conn: Connection, results: list[Result], computed_at: datetime, *, changed_only: bool = False) -> None:
    """Store `results`, replacing any stored result with the same key; `computed_at` is when
    they were computed (passed in: storage does not read the clock). `changed_only` leaves a
    stored result that already has the same figures as it is, `computed_at` included: an
    incremental run re-scores every objective a change touches, and most come out the same."""
    rows = [
        {
            "agreement": r.agreement,
            "customer": r.customer,
            "objective": r.objective,
            "period": r.period,
            "service": r.service,
            "type": str(r.type),
            "target": r.target,
            "warning": r.warning,
            "value": r.value,
            "status": str(r.status),
            "good": r.good,
            "bad": r.bad,
            "total": r.total,
            "unit": r.unit,
            "coverage": r.coverage,
            "error_budget_remaining": r.error_budget_remaining,
            "final": bool(r.final),
            "computed_at": computed_at,
            "kind": str(r.kind),
        }
        for r in results
    ]
    upsert(conn, results_table, rows, keys=_KEYS, unless_same=_FIGURES if changed_only else ())


def load_results(conn: Connection, period: str, customer: str | None = None) -> list[Result]:
    """The results of one period (of one customer, when given), sorted by agreement, customer,
    objective — the order `sla-worker results` prints."""
    return load_results_range(conn, [period], customer)


def load_results_range(conn: Connection, periods: Sequence[str], customer: str | None = None) -> list[Result]:
    """The results of several periods, sorted by period, agreement, customer, objective."""
    wanted = sorted(set(periods))
    if not wanted:
        return []
    t = results_table
    query = select(t).where(t.c.period.in_(wanted))
    if customer is not None:
        query = query.where(t.c.customer == customer)
    query = query.order_by(t.c.period, t.c.agreement, t.c.customer, t.c.objective)
    return [_result(row) for row in conn.execute(query)]


def result_computed_at(conn: Connection, period: str) -> dict[tuple[str, str, str], datetime]:
    """(agreement, customer, objective) → when its result for `period` was last computed."""
    t = results_table
    query = select(t.c.agreement, t.c.customer, t.c.objective, t.c.computed_at).where(t.c.period == period)
    return {(row.agreement, row.customer, row.objective): row.computed_at for row in conn.execute(query)}


def _result(row: Row[Any]) -> Result:
    return Result(
        period=row.period,
        agreement=row.agreement,
        customer=row.customer,
        service=row.service,
        objective=row.objective,
        type=ObjectiveType(row.type),
        target=row.target,
        warning=row.warning,
        value=row.value,
        status=Status(row.status),
        good=row.good,
        bad=row.bad,
        total=row.total,
        unit=row.unit,
        coverage=row.coverage,
        error_budget_remaining=row.error_budget_remaining,
        final=bool(row.final),
        kind=AgreementKind(row.kind),
    )
