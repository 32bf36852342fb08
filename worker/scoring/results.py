"""From good/bad/total to a Result: value, status, coverage and error budget (SPEC 6)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from worker.domain.model import Agreement, MissingData, Objective, Result, Status


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


def error_budget_remaining(bad: float, total: float, target: float) -> float | None:
    """1 − bad / ((1 − target/100) × total); negative once overspent."""
    if total <= 0:
        return None
    if target >= 100.0:
        return 1.0 if bad == 0 else 0.0
    return 1.0 - bad / ((1.0 - target / 100.0) * total)


def floor2(value: float) -> Decimal:
    """Round down to two decimals for display, so a breach never looks like a pass.

    Works on the shortest decimal form of the float (99.29 stays 99.29) rather than on
    value × 100, whose binary error could turn 99.29 into 99.28."""
    return Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)


def make_result(
    period: str, agreement: Agreement, customer: str, objective: Objective, score: Score, final: bool
) -> Result:
    value = value_of(score)
    return Result(
        period=period,
        agreement=agreement.id,
        customer=customer,
        service=objective.service,
        objective=objective.id,
        type=objective.type,
        target=objective.target,
        warning=objective.warning,
        value=value,
        status=status_of(value, objective.target, objective.warning),
        good=score.good,
        bad=score.bad,
        total=score.total,
        unit=objective.type.unit,
        coverage=score.coverage,
        error_budget_remaining=error_budget_remaining(score.bad, score.total, objective.target),
        final=final,
    )
