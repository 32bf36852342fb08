"""The customer report as a document: at a glance, the objectives this month, the trend per
service, the evidence (`evidence_view`), the Boston Box and the agreement. Pure."""

from __future__ import annotations

from worker.domain.model import Status
from worker.reports.customer.evidence_view import (
    coverage_section,
    incidents_section,
    maintenance_section,
    outages_section,
)
from worker.reports.customer.model import CustomerReport, MonthValue, ServiceTrend
from worker.reports.document import Block, Cell, Column, Document, Figure, Paragraph, Section, Table, TrendChart
from worker.reports.view import (
    NOT_MEASURED,
    NOT_MEASURED_LETTER,
    ROUNDING,
    STATUS_MEANING,
    agreements_table,
    banner,
    box_table,
    meta,
    status_cell,
    strip_cell,
    summary_chips,
)
from worker.reports.words import (
    STATUS_LABEL,
    percent,
    period_label,
    period_short,
    status_label,
    supplier_part_words,
    target_text,
)

DIRECTION = {"better": "▲ better", "worse": "▼ worse", "same": "► same", "new": "—"}


def customer_document(report: CustomerReport) -> Document:
    month = period_label(report.period)
    counts = report.counts
    shorts = tuple(period_short(p) for p in report.months)
    sections = [
        _glance(report, shorts),
        _objectives(report),
        _trends(report, shorts),
        incidents_section(report),
        outages_section(report),
        maintenance_section(report),
        coverage_section(report),
        Section(
            "Your services in the Boston Box",
            (
                Paragraph(
                    "Where the value of each service you receive lies: information for better decisions or "
                    "technology to work smarter, within your organisation or beyond it. Status is the worst "
                    "of the service's objectives this month."
                ),
                box_table(report.box),
            ),
        ),
        Section("Your agreement", (agreements_table(report.agreements),)),
    ]
    red = counts[Status.RED]
    verdict = f"{red} RED" if red else "all targets met" if not counts[Status.NO_DATA] else "no target missed"
    return Document(
        kind="customer",
        title=f"IT service report: {month}",
        subtitle=report.customer.name,
        subject=f"{report.customer.name}: IT service report for {month} ({verdict})",
        period=report.period,
        meta=meta(report.period, report.timezone, report.issued, report.final),
        summary=summary_chips(counts),
        banner=banner(report.final),
        sections=tuple(s for s in sections if s is not None),
        footer=(STATUS_MEANING, ROUNDING, "This report holds your organisation's figures only."),
        charts=tuple(
            TrendChart(f"trend-{t.service}", f"{t.name}: last twelve months", shorts, t.panels) for t in report.trends
        ),
    )


def month_cell(month: MonthValue) -> Cell:
    """A month's figure; a month without a result is "not measured" when the objective was in
    the customer's agreement then, "—" (not in the agreement) when it was not."""
    if month.status is None:
        return Cell(NOT_MEASURED if month.in_effect else "—", align="right")
    return Cell(percent(month.value) if month.value is not None else "no data", align="right", sub=status_label(month.status))


def _counts_sentence(counts: dict[Status, int]) -> str:
    total = sum(counts.values())
    parts = [f"{counts[s]} {STATUS_LABEL[s]}" for s in (Status.RED, Status.AMBER, Status.GREEN, Status.NO_DATA) if counts.get(s)]
    return f"{total} objective{'s' if total != 1 else ''}: " + ", ".join(parts) + "."


def _glance(report: CustomerReport, shorts: tuple[str, ...]) -> Section:
    rows = []
    for row in report.rows:
        cells = [Cell(row.service_name, bold=True), Cell(row.short)]
        cells += [strip_cell(m.status, m.in_effect) for m in row.history]
        rows.append(tuple(cells))
    columns = (Column("Service", weight=2.4), Column("Objective", weight=2.4)) + tuple(
        Column(s.replace(" ", "\n"), "center", 0.62) for s in shorts
    )
    blocks: list[Block] = [Paragraph(_counts_sentence(report.counts))]
    if rows:
        blocks.append(
            Table(
                columns,
                tuple(rows),
                style="strip",
                note="One row per objective, one column per month (this month last). G = GREEN, A = AMBER, "
                f"R = RED, – = NO DATA; {NOT_MEASURED_LETTER} = not measured (in your agreement that month, but no "
                "figures were recorded); blank (·) = not in your agreement that month.",
            )
        )
    else:
        blocks.append(Paragraph("No objective of yours was scored this month.", "muted"))
    return Section("At a glance", tuple(blocks))


def _objectives(report: CustomerReport) -> Section:
    if not report.rows:
        return Section("Objectives this month", (Paragraph("No objective of yours was scored this month.", "muted"),))
    p2, p1 = (period_short(p) for p in report.months[-3:-1])
    now = period_short(report.period)
    columns = (
        Column("Service", weight=1.6),
        Column("Objective", weight=2.6),
        Column("Target", "right", 0.8),
        Column(p2, "right", 0.95),
        Column(p1, "right", 0.95),
        Column(now, "right", 0.95),
        Column("Status", "center", 0.95),
        Column("Direction", "center", 1.05),
    )
    rows = []
    for row in report.rows:
        r = row.result
        before2, before1 = row.previous
        warning = f"warning {target_text(r.warning)}" if r.warning is not None else ""
        part = row.supplier_part
        rows.append(
            (
                Cell(row.service_name, bold=True),
                Cell(row.measure, sub=supplier_part_words(part.supplier, part.targets) if part else ""),
                Cell(target_text(r.target), align="right", sub=warning),
                month_cell(before2),
                month_cell(before1),
                Cell(percent(r.value), align="right", bold=True),
                status_cell(r.status),
                Cell(DIRECTION[row.direction], align="center"),
            )
        )
    blocks: list[Block] = [
        Table(
            columns,
            tuple(rows),
            note="Direction compares this month with last month as shown (rounded down). "
            f"Under a month, {NOT_MEASURED}: in your agreement then, but no figures were recorded; "
            "—: not in your agreement then.",
        )
    ]
    parts = [row for row in report.rows if row.supplier_part]
    if parts:
        blocks.append(
            Paragraph(
                "Missed in a month when the service's supplier also missed its contract with us: "
                + "; ".join(
                    f"{row.service_name}, {row.short.lower()} ({percent(row.result.value)} against "
                    f"{target_text(row.result.target)}): {supplier_part_words(p.supplier, p.targets)}"
                    for row in parts
                    if (p := row.supplier_part)
                )
                + "."
            )
        )
    return Section("Objectives this month", tuple(blocks))


def _trends(report: CustomerReport, shorts: tuple[str, ...]) -> Section:
    if not report.trends:
        return Section("Twelve-month trend", (Paragraph("Nothing to chart.", "muted"),))
    return Section("Twelve-month trend by service", trend_blocks(report.trends, shorts, "target", with_target=True))


def trend_blocks(trends: tuple[ServiceTrend, ...], shorts: tuple[str, ...], line: str, *, with_target: bool) -> tuple[Block, ...]:
    """The twelve-month charts, one per service, each with its alt text: the customer's
    report against its targets, the supplier's scorecard against the contract's."""
    blocks: list[Block] = [
        Paragraph(
            f"{shorts[0]} to {shorts[-1]}. The dashed line is the {line}. Each point carries its status "
            "(circle GREEN, diamond AMBER, cross RED); gaps are months with no value."
        )
    ]
    for trend in trends:
        described = "; ".join(
            f"{p.measure}: {percent(p.values[-1]) if p.values[-1] is not None else 'no data'} this month"
            + (f", target {target_text(p.targets[-1]) if p.targets[-1] is not None else '—'}" if with_target else "")
            for p in trend.panels
        )
        blocks.append(Figure(f"trend-{trend.service}", f"{trend.name}, twelve months. {described}.", trend.name))
    return tuple(blocks)
