"""The board report as values (SPEC 8): every customer's results of one period, as a
customer × service matrix, the portfolio in the Boston Box, the objectives most at risk,
the agreements due for review and the annual review assistant's suggestions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from worker.domain.model import Customer, Objective, Result, Status
from worker.reports.model import AgreementInfo, BostonBox

WORST_COUNT = 10
# Above this many customers the customer × service matrix is replaced by summaries (SPEC 8 at a
# regional shared service's size): an A4 page holds the service column and about twelve status
# columns wide enough for "NO DATA" in 8 pt (docs/reports.md).
MATRIX_MAX_CUSTOMERS = 12
WORST_CUSTOMERS = 15  # customers listed in "the customers most at risk"
RED_BANDS = 3  # the distribution counts customers with 0, 1, 2 and RED_BANDS or more RED objectives


@dataclass(frozen=True)
class MatrixRow:
    service: str
    name: str
    cells: tuple[Status | None, ...]  # one per board customer; None: does not receive it


@dataclass(frozen=True)
class BoardObjective:
    """One objective's figure, shared by the customers listed (a shared agreement's sample
    objectives score the same for all of its customers)."""

    agreement: str
    objective: Objective
    service_name: str
    measure: str
    customers: tuple[str, ...]  # names
    result: Result


@dataclass(frozen=True)
class ReviewHint:
    agreement: str
    objective: Objective
    service_name: str
    measure: str
    customers: tuple[str, ...]
    target: float
    months_with_data: int
    months_missed: int
    lowest: float | None
    lowest_budget: float | None


@dataclass(frozen=True)
class ContractRow:
    """One objective of a supplier's underpinning contract (SPEC 9.2): this period's result and
    the status of each of the twelve months."""

    contract: AgreementInfo  # its dates and review
    supplier: str  # name
    objective: Objective
    service_name: str
    measure: str
    result: Result | None  # None: no result this period
    statuses: tuple[Status | None, ...]  # TREND_MONTHS months, oldest first; None: no result
    in_effect: tuple[bool, ...]  # per month: whether the contract was in effect


@dataclass(frozen=True)
class StatusGroup:
    """A group of customers (of one kind, or under one agreement): how many, their results
    by status, and how many of them have at least one RED objective."""

    key: str  # the kind, or the agreement id
    name: str
    customers: int
    counts: dict[Status, int]
    with_red: int


@dataclass(frozen=True)
class CustomerStanding:
    """One customer's results this month, for ranking the customers most at risk."""

    customer: str  # id
    name: str
    kind: str
    red: int  # objectives RED
    amber: int
    no_data: int
    results: int
    lowest_budget: float | None  # the least error budget left across its objectives


@dataclass(frozen=True)
class BoardSummary:
    """What replaces the customer × service matrix above MATRIX_MAX_CUSTOMERS customers."""

    by_kind: tuple[StatusGroup, ...]
    by_agreement: tuple[StatusGroup, ...]
    worst_customers: tuple[CustomerStanding, ...]  # most RED objectives, then least budget left
    with_red: int  # customers with at least one RED objective
    distribution: tuple[tuple[str, int], ...]  # ("0", customers with no RED objective), ("1", …), …, ("3 or more", …)


@dataclass(frozen=True)
class BoardReport:
    period: str
    issued: date
    timezone: str
    final: bool
    months: tuple[str, ...]
    customers: tuple[Customer, ...]
    matrix: tuple[MatrixRow, ...]
    box: BostonBox
    worst: tuple[BoardObjective, ...]
    reviews: tuple[AgreementInfo, ...]  # in effect, review within REVIEW_WARNING_DAYS or overdue
    next_reviews: tuple[AgreementInfo, ...]  # the other agreements in effect
    raise_targets: tuple[ReviewHint, ...]
    attention: tuple[ReviewHint, ...]
    monthly_counts: tuple[tuple[str, dict[Status, int]], ...]  # per month: results by status
    results: tuple[Result, ...]
    worst_total: int = 0  # rows of `worst` before it was cut to WORST_COUNT
    contracts: tuple[ContractRow, ...] = ()  # suppliers' contract objectives (SPEC 9.2)
    services: int = 0  # services with results this month
    summary: BoardSummary | None = None  # above MATRIX_MAX_CUSTOMERS customers, instead of `matrix`
    kind: str = field(default="board", init=False)

    @property
    def counts(self) -> dict[Status, int]:
        """Results of the period by status: one result per objective per customer, so an
        objective of an agreement with three customers counts three times."""
        return dict(self.monthly_counts[-1][1]) if self.monthly_counts else {}

    @property
    def spread(self) -> dict[Status, Spread]:
        """Per status: how many objectives, for how many customers, in how many results."""
        return spread(self.results)


@dataclass(frozen=True)
class Spread:
    objectives: int  # distinct (agreement, objective)
    customers: int  # distinct customers
    results: int  # (objective, customer) pairs


def spread(results: Iterable[Result]) -> dict[Status, Spread]:
    """Results grouped by status into objectives, customers and results (an objective may
    be RED for one customer and GREEN for another: incident objectives are per customer)."""
    found: dict[Status, list[Result]] = {}
    for r in results:
        found.setdefault(r.status, []).append(r)
    return {
        status: Spread(len({(r.agreement, r.objective) for r in items}), len({r.customer for r in items}), len(items))
        for status, items in found.items()
    }
