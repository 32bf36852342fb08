"""What the customer report's and the board report's documents share: the status cells and
chips, the Boston Box, the agreements table, the heading facts and the footer. Pure.

The documents themselves are made in `reports.customer.view` and `reports.board.view`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from worker.domain.model import Status
from worker.reports.document import Cell, Chip, Column, Table
from worker.reports.model import AgreementInfo, BostonBox
from worker.reports.words import (
    AXIS_WORDS,
    STATUS_LABEL,
    STATUS_LETTER,
    day_text,
    period_label,
    review_words,
    status_label,
)

STATUS_MEANING = (
    "GREEN: target met. AMBER: target met but below the warning level. RED: target missed. "
    "NO DATA: nothing was measured."
)
ROUNDING = (
    "Values are rounded down to two decimals, so a missed target is never shown as met "
    "(99.499% shows as 99.49%)."
)
NOT_MEASURED = "not measured"
NOT_MEASURED_LETTER = "n/m"
PROVISIONAL = "PROVISIONAL: this month is not over or not final yet; figures may still change."


NAMES_LISTED = 12  # a list of more customers than this is shown as a count and the first few names
NAMES_FIRST = 3


def names_text(names: Sequence[str]) -> str:
    """Customers' names joined; a long list (a shared agreement with hundreds of practices) as
    how many and the first few, so a table row stays readable and fits a page."""
    if len(names) <= NAMES_LISTED:
        return ", ".join(names)
    return f"{len(names)} customers: {', '.join(names[:NAMES_FIRST])} and {len(names) - NAMES_FIRST} others"


def status_cell(status: Status | None, text: str | None = None, *, sub: str = "") -> Cell:
    if status is None:
        return Cell(text if text is not None else "—", None, "center", sub=sub)
    return Cell(text if text is not None else STATUS_LABEL[status], status, "center", True, sub)


def strip_cell(status: Status | None, in_effect: bool) -> Cell:
    """One month of a twelve-month strip: the status letter on its colour; without a result,
    `n/m` (not measured) when the agreement or contract was in effect, blank when it was not."""
    if status is not None:
        return status_cell(status, STATUS_LETTER[status])
    return Cell(NOT_MEASURED_LETTER if in_effect else "", align="center")


def summary_chips(counts: dict[Status, int]) -> tuple[Chip, ...]:
    return tuple(Chip(f"{counts.get(s, 0)} {STATUS_LABEL[s]}", s) for s in (Status.RED, Status.AMBER, Status.GREEN, Status.NO_DATA))


def meta(period: str, tz: str, issued: date, final: bool) -> tuple[tuple[str, str], ...]:
    """The facts under a report's title: the period and its zone, the issue date, whether the
    figures are final."""
    return (
        ("Period", f"{period_label(period)} ({tz} time)"),
        ("Issued", day_text(issued)),
        ("Figures", "final" if final else "period to date, not final"),
    )


def banner(final: bool) -> str:
    return "" if final else PROVISIONAL


def box_table(box: BostonBox, board: bool = False) -> Table:
    """The Boston Box as a 2 × 2 table of chips, one per service (on the board report, with
    how many customers receive it)."""

    def chips(quadrant: str) -> Cell:
        items = box.quadrants.get(quadrant, ())
        if not items:
            return Cell("(none)")
        return Cell(
            chips=tuple(
                Chip(
                    f"{s.name}: {status_label(s.status) if s.status else 'not measured'}"
                    + (f" ({s.customers} customer{'s' if s.customers != 1 else ''})" if board else ""),
                    s.status,
                )
                for s in items
            )
        )

    return Table(
        columns=(
            Column("", weight=0.9),
            Column(AXIS_WORDS["internal"], weight=2),
            Column(AXIS_WORDS["external"], weight=2),
        ),
        rows=(
            (Cell(AXIS_WORDS["decisions"], bold=True), chips("decisions/internal"), chips("decisions/external")),
            (Cell(AXIS_WORDS["smarter"], bold=True), chips("smarter/internal"), chips("smarter/external")),
        ),
        style="box",
    )


def effective_text(info: AgreementInfo) -> str:
    if info.effective_from and info.effective_to:
        return f"{day_text(info.effective_from)} to {day_text(info.effective_to)}"
    if info.effective_from:
        return f"from {day_text(info.effective_from)}"
    if info.effective_to:
        return f"until {day_text(info.effective_to)}"
    return "open-ended"


def agreements_table(agreements: Sequence[AgreementInfo], board: bool = False) -> Table:
    """Each agreement's dates and annual review (on the board report, with its customers); a
    review due within 90 days, or overdue, is marked."""
    rows = []
    for a in agreements:
        words, _ = review_words(a.review_due, a.issued)
        rows.append(
            (
                Cell(a.name, bold=True, sub=a.id),
                *((Cell(names_text(a.customers)),) if board else ()),
                Cell(effective_text(a)),
                Cell(words, status=Status.AMBER if a.review_soon else None, bold=a.review_soon),
            )
        )
    columns = (Column("Agreement", weight=2.2),) + ((Column("Customers", weight=2.2),) if board else ()) + (
        Column("In effect", weight=2.2),
        Column("Annual review", weight=2.0),
    )
    return Table(columns, tuple(rows))
