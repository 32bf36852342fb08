"""The board report built for one period (SPEC 8) from stored results. Pure: no I/O, no
clock. Suppliers' contract results are not customers' results: they are left out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date

from worker.domain.model import Agreement, AgreementKind, Catalogue, Objective, Result, Status
from worker.reports.board.model import (
    MATRIX_MAX_CUSTOMERS,
    RED_BANDS,
    WORST_COUNT,
    WORST_CUSTOMERS,
    BoardObjective,
    BoardReport,
    BoardSummary,
    ContractRow,
    CustomerStanding,
    MatrixRow,
    StatusGroup,
)
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
    present = {r.customer for r in current}
    customer_ids = [c for c in catalogue.customers if c in present]
    names = {c.id: c.name for c in catalogue.customers.values()}
    matrix, box = _matrix_and_box(catalogue, current, customer_ids)
    summary = _summary(catalogue, current, customer_ids) if len(customer_ids) > MATRIX_MAX_CUSTOMERS else None
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
        matrix=() if summary else matrix,
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
        services=len(matrix),
        summary=summary,
    )


def _summary(catalogue: Catalogue, current: Sequence[Result], customer_ids: Sequence[str]) -> BoardSummary:
    """The board's view when there are too many customers for one matrix: results by status
    per customer kind and per agreement, the customers most at risk, and how many customers
    have 0, 1, 2, … RED objectives."""
    mine: dict[str, list[Result]] = {c: [] for c in customer_ids}
    for r in current:
        mine[r.customer].append(r)
    customers = [catalogue.customers[c] for c in customer_ids]
    kinds: dict[str, list[str]] = {}
    for c in customers:
        kinds.setdefault(c.kind, []).append(c.id)
    by_kind = tuple(
        _group(kind, kind, [r for c in ids for r in mine[c]]) for kind, ids in sorted(kinds.items(), key=lambda k: (-len(k[1]), k[0]))
    )
    under: dict[str, list[Result]] = {}
    for r in current:
        under.setdefault(r.agreement, []).append(r)
    agreements = catalogue.customer_agreements
    by_agreement = tuple(
        _group(a, agreements[a].name if a in agreements else a, items)
        for a, items in sorted(under.items(), key=lambda k: (list(agreements).index(k[0]) if k[0] in agreements else len(agreements), k[0]))
    )
    standings = [_standing(c.id, c.name, c.kind, mine[c.id]) for c in customers]
    at_risk = sorted(
        (s for s in standings if s.red or s.amber or s.no_data),
        key=lambda s: (-s.red, s.lowest_budget if s.lowest_budget is not None else float("inf"), -s.no_data, -s.amber, s.name),
    )
    bands = [sum(1 for s in standings if min(s.red, RED_BANDS) == n) for n in range(RED_BANDS + 1)]
    return BoardSummary(
        by_kind=by_kind,
        by_agreement=by_agreement,
        worst_customers=tuple(at_risk[:WORST_CUSTOMERS]),
        with_red=sum(1 for s in standings if s.red),
        distribution=tuple((str(n) if n < RED_BANDS else f"{n} or more", count) for n, count in enumerate(bands)),
    )


def _group(key: str, name: str, items: Sequence[Result]) -> StatusGroup:
    red = {r.customer for r in items if r.status is Status.RED}
    return StatusGroup(key, name, len({r.customer for r in items}), status_counts(r.status for r in items), len(red))


def _standing(customer: str, name: str, kind: str, items: Sequence[Result]) -> CustomerStanding:
    budgets = [r.error_budget_remaining for r in items if r.error_budget_remaining is not None]
    return CustomerStanding(
        customer=customer,
        name=name,
        kind=kind,
        red=sum(r.status is Status.RED for r in items),
        amber=sum(r.status is Status.AMBER for r in items),
        no_data=sum(r.status is Status.NO_DATA for r in items),
        results=len(items),
        lowest_budget=min(budgets, default=None),
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
    with_results = {key[0] for key in cell}
    services = [s for s in catalogue.services.values() if s.id in with_results]
    matrix = tuple(
        MatrixRow(s.id, s.name, tuple(worst(cell[(s.id, c)]) if (s.id, c) in cell else None for c in customer_ids))
        for s in services
    )
    by_service: dict[str, list[Status]] = {}
    for (service, _), statuses in cell.items():
        by_service.setdefault(service, []).extend(statuses)
    receivers: dict[str, int] = {}
    for service, _ in cell:
        receivers[service] = receivers.get(service, 0) + 1
    return matrix, boston_box(catalogue, {s: worst(v) for s, v in by_service.items()}, receivers)


def _grouped(
    catalogue: Catalogue, items: Iterable[Result], objectives: Objectives, names: Mapping[str, str]
) -> list[BoardObjective]:
    """One row per figure: the customers with the same value and status of an objective
    together (a shared agreement's sample objectives score the same for all of them)."""
    groups: dict[tuple[str, str, float | None, Status], BoardObjective] = {}
    members: dict[tuple[str, str, float | None, Status], list[str]] = {}
    for r in items:
        if (r.agreement, r.objective) not in objectives:
            continue
        _, objective = objectives[(r.agreement, r.objective)]
        key = (r.agreement, r.objective, r.value, r.status)
        members.setdefault(key, []).append(names.get(r.customer, r.customer))
        if key not in groups:
            groups[key] = BoardObjective(
                r.agreement,
                objective,
                service_name(catalogue, r.service),
                measure_words(objective, catalogue.calendars.get(objective.calendar)),
                (),
                r,
            )
    return [replace(group, customers=tuple(members[key])) for key, group in groups.items()]


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
