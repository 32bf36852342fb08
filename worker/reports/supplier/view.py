"""A supplier's scorecard as a document (SPEC 9.2): at a glance, the contracts with their dates
and review, the contract objectives this month with the two months before, what it meant for
the trust's customers (counts only) and the twelve-month trend. Pure."""

from __future__ import annotations

from worker.domain.model import Status
from worker.reports.customer.view import DIRECTION, month_cell, trend_blocks
from worker.reports.document import (
    Block,
    Bullets,
    Cell,
    Column,
    Document,
    Paragraph,
    Section,
    Table,
    TrendChart,
)
from worker.reports.supplier.model import CustomerImpact, SupplierReport
from worker.reports.view import (
    ROUNDING,
    STATUS_MEANING,
    banner,
    effective_text,
    meta,
    status_cell,
    strip_cell,
    summary_chips,
)
from worker.reports.words import STATUS_LABEL, percent, period_label, period_short, review_words, target_text

SCOPE = (
    "This scorecard holds the figures of your contracts with the trust only. Of the trust's customers it gives "
    "counts, never their names or figures."
)


def supplier_document(report: SupplierReport) -> Document:
    month = period_label(report.period)
    shorts = tuple(period_short(p) for p in report.months)
    red = report.counts[Status.RED]
    verdict = f"{red} RED" if red else "all targets met" if not report.counts[Status.NO_DATA] else "no target missed"
    sections = [
        _glance(report, shorts),
        _contracts(report),
        _objectives(report),
        _customers(report),
        _trends(report, shorts),
    ]
    return Document(
        kind="supplier",
        title=f"Supplier scorecard: {month}",
        subtitle=report.supplier.name,
        subject=f"{report.supplier.name}: supplier scorecard for {month} ({verdict})",
        period=report.period,
        meta=meta(report.period, report.timezone, report.issued, report.final),
        summary=summary_chips(report.counts),
        summary_label="Contract objectives this month",
        banner=banner(report.final),
        sections=tuple(s for s in sections if s is not None),
        footer=(STATUS_MEANING, ROUNDING, SCOPE),
        charts=tuple(
            TrendChart(f"trend-{t.service}", f"{t.name}: last twelve months", shorts, t.panels) for t in report.trends
        ),
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _glance(report: SupplierReport, shorts: tuple[str, ...]) -> Section:
    counts = report.counts
    parts = [f"{counts[s]} {STATUS_LABEL[s]}" for s in (Status.RED, Status.AMBER, Status.GREEN, Status.NO_DATA) if counts[s]]
    blocks: list[Block] = [
        Paragraph(
            f"{_plural(len(report.rows), 'contract objective')} scored this month under "
            f"{_plural(len(report.contracts), 'contract')}" + (": " + ", ".join(parts) if parts else "") + "."
        )
    ]
    if report.rows:
        blocks.append(
            Table(
                (Column("Service", weight=2.4), Column("Objective", weight=2.4))
                + tuple(Column(s.replace(" ", "\n"), "center", 0.62) for s in shorts),
                tuple(
                    (Cell(row.service_name, bold=True), Cell(row.short))
                    + tuple(strip_cell(m.status, m.in_effect) for m in row.history)
                    for row in report.rows
                ),
                style="strip",
                note="One row per contract objective, one column per month (this month last). G = GREEN, A = AMBER, "
                "R = RED, – = NO DATA; n/m = not measured (contract in effect, no figures recorded); blank (·) = "
                "contract not in effect that month.",
            )
        )
    return Section("At a glance", tuple(blocks))


def _objectives(report: SupplierReport) -> Section:
    if not report.rows:
        return Section("Contract objectives this month", (Paragraph("No contract objective was scored this month.", "muted"),))
    p2, p1 = (period_short(p) for p in report.months[-3:-1])
    rows = []
    for row in report.rows:
        before2, before1 = row.previous
        rows.append(
            (
                Cell(row.service_name, bold=True, sub=row.agreement),
                Cell(row.measure, sub=row.objective.id),
                Cell(target_text(row.result.target), align="right"),
                month_cell(before2),
                month_cell(before1),
                Cell(percent(row.result.value), align="right", bold=True),
                status_cell(row.result.status),
                Cell(DIRECTION[row.direction], align="center"),
            )
        )
    return Section(
        "Contract objectives this month",
        (
            Table(
                (
                    Column("Service and contract", weight=1.7),
                    Column("Objective", weight=2.5),
                    Column("Target", "right", 0.8),
                    Column(p2, "right", 0.95),
                    Column(p1, "right", 0.95),
                    Column(period_short(report.period), "right", 0.95),
                    Column("Status", "center", 0.95),
                    Column("Direction", "center", 1.05),
                ),
                tuple(rows),
                note="Scored exactly as the trust's agreements with its customers are. Direction compares this month "
                "with last month as shown (rounded down). Under a month, not measured: in the contract then, but no "
                "figures were recorded; —: not in the contract then.",
            ),
        ),
    )


def _trends(report: SupplierReport, shorts: tuple[str, ...]) -> Section | None:
    if not report.trends:
        return None
    return Section("Twelve-month trend by service", trend_blocks(report.trends, shorts, "contract target", with_target=False))


def impact_words(impact: CustomerImpact) -> str:
    """`Electronic Patient Record: 1 of the trust's 2 objectives to its customers on this
    service missed its target this month, for 2 customers.` Counts only."""
    head = f"{impact.service_name}: "
    if impact.objectives == 0:
        return head + "no objective of the trust's to its customers on this service was scored this month."
    if impact.missed == 0:
        return head + (
            f"the trust met {'its one objective' if impact.objectives == 1 else f'all {impact.objectives} of its objectives'} "
            f"to its customers on this service this month ({_plural(impact.customers, 'customer')})."
        )
    return head + (
        f"{impact.missed} of the trust's {_plural(impact.objectives, 'objective')} to its customers on this service "
        f"missed {'its' if impact.missed == 1 else 'their'} target this month, for "
        f"{impact.customers_missed} of {_plural(impact.customers, 'customer')}."
    )


def _customers(report: SupplierReport) -> Section:
    return Section(
        "What it means for the trust's customers",
        (
            Paragraph(
                "The trust's promise to its customers on each service rests on your contract. How those promises "
                "fared this month (counts only; customers' figures are not shared):"
            ),
            Bullets(tuple(impact_words(i) for i in report.impact)) if report.impact else Paragraph("No service.", "muted"),
        ),
    )


def _contracts(report: SupplierReport) -> Section:
    if not report.contracts:
        return Section("Your contracts", (Paragraph("No contract of yours was in effect this month.", "muted"),))
    rows = []
    for c in report.contracts:
        words, _ = review_words(c.review_due, c.issued)
        rows.append(
            (
                Cell(c.name, bold=True, sub=c.id if c.id != c.name else ""),
                Cell(effective_text(c)),
                Cell(words, status=Status.AMBER if c.review_soon else None, bold=c.review_soon),
            )
        )
    return Section(
        "Your contracts",
        (
            Table(
                (Column("Contract", weight=2.2), Column("In effect", weight=2.2), Column("Review", weight=2.0)),
                tuple(rows),
            ),
        ),
    )
