"""What the customer report and the board report share, as values (SPEC 8): the twelve-month
span, the Boston Box, an agreement's dates and review, the day a report is dated. Pure: built
from plain values, no I/O and no clock (`now_s` is an argument).

The customer report is in `reports.customer`, the board report in `reports.board`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone

from worker.domain.model import DEFAULT_STALENESS_S, DEFAULT_TIMEZONE, Agreement, Catalogue, Status
from worker.reports.words import QUADRANTS
from worker.scoring.periods import period_bounds, zone

TREND_MONTHS = 12
REVIEW_WARNING_DAYS = 90
STATUS_ORDER = (Status.GREEN, Status.AMBER, Status.RED, Status.NO_DATA)  # the order counts are kept in


@dataclass(frozen=True)
class BoxService:
    service: str
    name: str
    status: Status | None  # None: no result this period
    customers: int = 0  # board: how many customers receive it


@dataclass(frozen=True)
class BostonBox:
    quadrants: dict[str, tuple[BoxService, ...]]  # every quadrant, in QUADRANTS order


@dataclass(frozen=True)
class AgreementInfo:
    id: str
    name: str
    effective_from: date | None
    effective_to: date | None
    review_due: date | None
    review_days: int | None  # days from the issue date; negative: overdue
    issued: date  # the report's issue date, that review_days counts from
    customers: tuple[str, ...] = ()  # board only (names)

    @property
    def review_soon(self) -> bool:
        return self.review_days is not None and self.review_days <= REVIEW_WARNING_DAYS


def status_counts(statuses: Iterable[Status]) -> dict[Status, int]:
    """How many of each status, every status present (zero when none)."""
    found = {s: 0 for s in STATUS_ORDER}
    for status in statuses:
        found[status] += 1
    return found


def report_zone(agreements: Sequence[Agreement]) -> str:
    """The time zone a report is dated and written in: its first agreement's (the default
    when it has none)."""
    return agreements[0].timezone if agreements else DEFAULT_TIMEZONE


def issue_date(period: str, tz: str, now_s: float) -> date:
    """The day a report is dated: the day after its period (reports of a complete period
    say the same whenever they are made), or today for a period still running."""
    _, end = period_bounds(period, tz)
    return datetime.fromtimestamp(min(end, now_s), tz=timezone.utc).astimezone(zone(tz)).date()


def service_name(catalogue: Catalogue, service: str) -> str:
    found = catalogue.services.get(service)
    return found.name if found else service


def staleness_s(catalogue: Catalogue, service: str) -> float:
    """How long an `up` sample of the service holds (the scoring's default for a service the
    catalogue does not know)."""
    found = catalogue.services.get(service)
    return found.staleness_s if found else DEFAULT_STALENESS_S


def boston_box(
    catalogue: Catalogue, statuses: Mapping[str, Status | None], customers: Mapping[str, int] | None = None
) -> BostonBox:
    """The services given (id → status), each in every quadrant its `value` names, in
    catalogue order."""
    quadrants: dict[str, list[BoxService]] = {q: [] for q in QUADRANTS}
    for service in catalogue.services.values():
        if service.id not in statuses:
            continue
        for quadrant in service.value:
            if quadrant in quadrants:
                quadrants[quadrant].append(
                    BoxService(service.id, service.name, statuses[service.id], (customers or {}).get(service.id, 0))
                )
    return BostonBox({q: tuple(items) for q, items in quadrants.items()})


def agreement_info(agreement: Agreement, issued: date, customer_names: Sequence[str] = ()) -> AgreementInfo:
    days = (agreement.review_due - issued).days if agreement.review_due else None
    return AgreementInfo(
        id=agreement.id,
        name=agreement.name,
        effective_from=agreement.effective_from,
        effective_to=agreement.effective_to,
        review_due=agreement.review_due,
        review_days=days,
        issued=issued,
        customers=tuple(customer_names),
    )
