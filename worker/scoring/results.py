"""From good/bad/total to a Result: value, status, coverage and error budget (SPEC 6)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from worker.domain.model import Agreement, MissingData, Objective, ObjectiveType, Result, Status


@dataclass(frozen=True)
class Tally:
    """Period sums for one objective (the day tallies added up)."""

    up_s: float = 0.0
    down_s: float = 0.0
    counted_s: float = 0.0
    good: float = 0.0
    total: float = 0.0


@dataclass(frozen=True)
class Score:
    good: float
    bad: float
    total: float
    coverage: float | None = None


def availability_score(tally: Tally, missing_data: MissingData) -> Score:
    """Seconds with no data count as nothing, as down, or as up, by the objective's policy."""
    no_data_s = max(tally.counted_s - tally.up_s - tally.down_s, 0.0)
    coverage = (tally.up_s + tally.down_s) / tally.counted_s if tally.counted_s > 0 else None
    if missing_data is MissingData.DOWN:
        return Score(tally.up_s, tally.down_s + no_data_s, tally.counted_s, coverage)
    if missing_data is MissingData.UP:
        return Score(tally.up_s + no_data_s, tally.down_s, tally.counted_s, coverage)
    return Score(tally.up_s, tally.down_s, tally.up_s + tally.down_s, coverage)


def count_score(good: float, total: float) -> Score:
    return Score(good, total - good, total)


def value_of(score: Score) -> float | None:
    return 100.0 * score.good / score.total if score.total > 0 else None


def status_of(value: float | None, target: float, warning: float | None) -> Status:
    """Decided on the unrounded value."""
    if value is None:
        return Status.NO_DATA
    if value < target:
        return Status.RED
    if warning is not None and value < warning:
        return Status.AMBER
    return Status.GREEN


@dataclass(frozen=True)
class Progress:
    """How far through the period's counted time (|C|) a result is computed. Only a
    period-to-date budget needs it: the whole period's budget depends on the part of C
    still to come."""

    counted_so_far_s: float
    counted_whole_s: float

    @property
    def to_come_s(self) -> float:
        return max(0.0, self.counted_whole_s - self.counted_so_far_s)

    @property
    def share_gone(self) -> float:
        """Share of the period's counted time gone by (1 when the period counts nothing)."""
        if self.counted_whole_s <= 0:
            return 1.0
        return min(1.0, max(0.0, self.counted_so_far_s / self.counted_whole_s))


def whole_period_total(objective_type: ObjectiveType, total: float, progress: Progress | None, final: bool) -> float:
    """W of SPEC 6: the total the whole period is expected to reach. A final result (or one
    computed without progress) has W = total; period-to-date availability adds the counted
    seconds still to come (so W = |C| under missing_data down or up); latency and events
    scale the total so far by the share of counted time gone by; incidents keep W = total
    (how many incidents a month will bring is not a matter of time)."""
    if final or progress is None or objective_type.is_incident:
        return total
    if objective_type is ObjectiveType.AVAILABILITY:
        return total + progress.to_come_s
    share = progress.share_gone
    return total / share if share > 0 else total


def error_budget_remaining(bad: float, whole_total: float, target: float) -> float | None:
    """1 − bad / ((1 − target/100) × W), W the whole period's total: the share of the whole
    period's budget still unspent; negative once overspent, None when W = 0."""
    if whole_total <= 0:
        return None
    if target >= 100.0:
        return 1.0 if bad == 0 else 0.0
    return 1.0 - bad / ((1.0 - target / 100.0) * whole_total)


def floor2(value: float) -> Decimal:
    """Round down to two decimals for display, so a breach never looks like a pass.

    Works on the shortest decimal form of the float (99.29 stays 99.29) rather than on
    value × 100, whose binary error could turn 99.29 into 99.28."""
    return Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)


def make_results(
    period: str,
    agreement: Agreement,
    customers: Sequence[str],
    objective: Objective,
    score: Score,
    final: bool,
    progress: Progress | None = None,
) -> list[Result]:
    """One result per customer with the same score; `progress` (counted time gone by and
    whole) sets a period-to-date result's budget. The figures are worked out once."""
    value = value_of(score)
    status = status_of(value, objective.target, objective.warning)
    budget = error_budget_remaining(score.bad, whole_period_total(objective.type, score.total, progress, final), objective.target)
    return [
        Result(
            period=period,
            agreement=agreement.id,
            customer=customer,
            service=objective.service,
            objective=objective.id,
            type=objective.type,
            target=objective.target,
            warning=objective.warning,
            value=value,
            status=status,
            good=score.good,
            bad=score.bad,
            total=score.total,
            unit=objective.type.unit,
            coverage=score.coverage,
            error_budget_remaining=budget,
            final=final,
            kind=agreement.kind,
        )
        for customer in customers
    ]
