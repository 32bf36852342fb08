"""The board report built for one period (SPEC 8) from stored results. Pure: no I/O, no
clock. Suppliers' contract results are not customers' results: they are left out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date

from worker.domain.model import Agreement, AgreementKind, Catalogue, Objective, Result, Status
from worker.reports.board.model import WORST_COUNT, BoardObjective, BoardReport, ContractRow, MatrixRow
from worker.reports.board.review import review_hints
from worker.reports.model import (
    TREND_MONTHS,
    AgreementInfo,
    BostonBox,
    agreement_info,
    boston_box,
    issue_date,
    report_zone,
    service_name,
    status_counts,
)
from worker.reports.words import measure_words, worst
from worker.scoring.periods import periods_back, scored_window

Objectives = Mapping[tuple[str, str], tuple[Agreement, Objective]]  # (agreement, objective id) → both


def build_board_report(catalogue: Catalogue, period: str, results: Sequence[Result], now_s: float) -> BoardReport:
    """The trust board's view of one period (SPEC 8): every customer. Suppliers' contract
    results are not customers' results: they are left out of the counts and the matrix, and
    shown in a section of their own (SPEC 9.2)."""
    contract_results = [r for r in results if r.kind == AgreementKind.CONTRACT]
    results = [r for r in results if r.kind == AgreementKind.AGREEMENT]
    months = tuple(periods_back(period, TREND_MONTHS))
    in_effect = [a for a in catalogue.customer_agreements.values() if scored_window(a, period)]
    tz = report_zone(in_effect)
    issued = issue_date(period, tz, now_s)
    current = [r for r in results if r.period == period]
    customer_ids = [c for c in catalogue.customers if any(r.customer == c for r in current)]
    names = {c.id: c.name for c in catalogue.customers.values()}
    matrix, box = _matrix_and_box(catalogue, current, customer_ids)
    objectives = {(a.id, o.id): (a, o) for a in catalogue.customer_agreements.values() for o in a.objectives}
    failing = sorted(
        (g for g in _grouped(catalogue, current, objectives, names) if g.result.status is not Status.GREEN),
        key=lambda g: (_rank(g.result), g.agreement, g.objective.id),
    )
    reviews, later = _reviews(in_effect, issued, names)
    raise_targets, attention = review_hints(catalogue, results, months, names, objectives)
    return BoardReport(
        period=period,
        issued=issued,
        timezone=tz,
        final=bool(current) and all(r.final for r in current),
        months=months,
        customers=tuple(catalogue.customers[c] for c in customer_ids),
        matrix=matrix,
        box=box,
        worst=tuple(failing[:WORST_COUNT]),
        worst_total=len(failing),
        reviews=tuple(reviews),
        next_reviews=tuple(later),
        raise_targets=tuple(raise_targets),
        attention=tuple(attention),
        monthly_counts=tuple((month, status_counts(r.status for r in results if r.period == month)) for month in months),
        results=tuple(current),
        contracts=tuple(contract_rows(catalogue, period, months, contract_results, issued)),
    )


def contract_rows(
    catalogue: Catalogue, period: str, months: Sequence[str], results: Sequence[Result], issued: date
) -> list[ContractRow]:
    """Each objective of each contract in effect this period or scored in the twelve months,
    in configuration order, with its result and its months' statuses."""
    found = {(r.agreement, r.objective, r.period): r for r in results if r.kind == AgreementKind.CONTRACT}
    rows = []
    for contract in catalogue.contracts.values():
        scored = any(key[0] == contract.id and key[2] in months for key in found)
        if not scored and not scored_window(contract, period):
            continue
        supplier = catalogue.suppliers.get(contract.supplier or "")
        info = agreement_info(contract, issued)
        effective = tuple(bool(scored_window(contract, m)) for m in months)
        for objective in contract.objectives:
            rows.append(
                ContractRow(
                    contract=info,
                    supplier=supplier.name if supplier else contract.supplier or "",
                    objective=objective,
                    service_name=service_name(catalogue, objective.service),
                    measure=measure_words(objective, catalogue.calendars.get(objective.calendar)),
                    result=found.get((contract.id, objective.id, period)),
                    statuses=tuple(
                        r.status if (r := found.get((contract.id, objective.id, m))) else None for m in months
                    ),
                    in_effect=effective,
                )
            )
    return rows


def _matrix_and_box(
    catalogue: Catalogue, current: Sequence[Result], customer_ids: Sequence[str]
) -> tuple[tuple[MatrixRow, ...], BostonBox]:
    """The customer × service matrix (the worst status of each cell) and the Boston Box of the
    services with results, each with the worst status across its customers and how many
    customers receive it."""
    cell: dict[tuple[str, str], list[Status]] = {}
    for r in current:
        cell.setdefault((r.service, r.customer), []).append(r.status)
    services = [s for s in catalogue.services.values() if any(key[0] == s.id for key in cell)]
    matrix = tuple(
        MatrixRow(s.id, s.name, tuple(worst(cell[(s.id, c)]) if (s.id, c) in cell else None for c in customer_ids))
        for s in services
    )
    by_service: dict[str, list[Status]] = {}
    for (service, _), statuses in cell.items():
        by_service.setdefault(service, []).extend(statuses)
    receivers = {s: len({c for (sv, c) in cell if sv == s}) for s in by_service}
    return matrix, boston_box(catalogue, {s: worst(v) for s, v in by_service.items()}, receivers)


def _grouped(
    catalogue: Catalogue, items: Iterable[Result], objectives: Objectives, names: Mapping[str, str]
) -> list[BoardObjective]:
    """One row per figure: the customers with the same value and status of an objective
    together (a shared agreement's sample objectives score the same for all of them)."""
    groups: dict[tuple[str, str, float | None, Status], BoardObjective] = {}
    for r in items:
        if (r.agreement, r.objective) not in objectives:
            continue
        _, objective = objectives[(r.agreement, r.objective)]
        key = (r.agreement, r.objective, r.value, r.status)
        name = names.get(r.customer, r.customer)
        if key in groups:
            groups[key] = replace(groups[key], customers=(*groups[key].customers, name))
        else:
            groups[key] = BoardObjective(
                r.agreement,
                objective,
                service_name(catalogue, r.service),
                measure_words(objective, catalogue.calendars.get(objective.calendar)),
                (name,),
                r,
            )
    return list(groups.values())


def _rank(result: Result) -> tuple[int, float]:
    """Worst first: red, no data, amber, green; within a status the most overspent budget."""
    order = {Status.RED: 0, Status.NO_DATA: 1, Status.AMBER: 2, Status.GREEN: 3}[result.status]
    budget = result.error_budget_remaining if result.error_budget_remaining is not None else 0.0
    return order, budget


def _reviews(
    in_effect: Sequence[Agreement], issued: date, names: Mapping[str, str]
) -> tuple[list[AgreementInfo], list[AgreementInfo]]:
    """The agreements in effect: those due for review soon (or overdue), and the others; each
    by review date."""
    reviews: list[AgreementInfo] = []
    later: list[AgreementInfo] = []
    for agreement in in_effect:
        info = agreement_info(agreement, issued, [names.get(c, c) for c in agreement.customers])
        (reviews if info.review_soon else later).append(info)
    reviews.sort(key=lambda a: (a.review_due or date.max, a.id))
    later.sort(key=lambda a: (a.review_due or date.max, a.id))
    return reviews, later
