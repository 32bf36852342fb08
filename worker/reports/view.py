"""A report model laid out as a document: a title, sections of paragraphs, tables and
figures, and the charts to draw. Pure. The HTML, text and PDF renderers only lay this out,
so the three formats say the same thing in the same words and one test of the words covers
them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from worker.domain.model import Status
from worker.reports.model import (
    AgreementInfo,
    BoardReport,
    BostonBox,
    CustomerReport,
    MonthValue,
    ObjectiveRow,
    Spread,
    TrendPanel,
)
from worker.reports.words import (
    AXIS_WORDS,
    STATUS_LABEL,
    STATUS_LETTER,
    day_text,
    duration,
    in_service_hours,
    local,
    missing_data_words,
    moment,
    percent,
    period_label,
    period_short,
    ratio_percent,
    review_words,
    service_time,
    span,
    status_label,
    target_text,
)

# ------------------------------------------------------------------ document parts


@dataclass(frozen=True)
class Chip:
    text: str
    status: Status | None = None


@dataclass(frozen=True)
class Cell:
    text: str = ""
    status: Status | None = None  # coloured background; the text always carries the label
    align: str = "left"  # left | right | center
    bold: bool = False
    sub: str = ""  # a second, smaller line
    chips: tuple[Chip, ...] = ()  # a list of labelled items (the Boston Box)


@dataclass(frozen=True)
class Column:
    title: str
    align: str = "left"
    weight: float = 1.0  # share of the table width


@dataclass(frozen=True)
class Table:
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    style: str = "normal"  # normal | strip (narrow status cells) | box (2 × 2 quadrants)
    note: str = ""


@dataclass(frozen=True)
class Paragraph:
    text: str
    tone: str = ""  # "" | muted | warning


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Figure:
    chart: str  # name of a ChartSpec of the document
    alt: str
    caption: str = ""


Block = Paragraph | Table | Bullets | Figure


@dataclass(frozen=True)
class Section:
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class TrendChart:
    name: str
    title: str
    months: tuple[str, ...]  # short labels
    panels: tuple[TrendPanel, ...]


@dataclass(frozen=True)
class StatusBars:
    name: str
    title: str
    months: tuple[str, ...]
    counts: tuple[dict[Status, int], ...]


ChartSpec = TrendChart | StatusBars


@dataclass(frozen=True)
class Document:
    kind: str  # customer | board
    title: str
    subtitle: str
    subject: str
    period: str
    meta: tuple[tuple[str, str], ...]
    summary: tuple[Chip, ...]
    banner: str  # shown prominently when not empty (period-to-date figures)
    sections: tuple[Section, ...]
    footer: tuple[str, ...]
    charts: tuple[ChartSpec, ...] = field(default=())
    summary_label: str = ""  # what the summary chips count, when it is not plain objectives


# ------------------------------------------------------------------ shared pieces

STATUS_MEANING = (
    "GREEN: target met. AMBER: target met but below the warning level. RED: target missed. "
    "NO DATA: nothing was measured."
)
ROUNDING = (
    "Values are rounded down to two decimals, so a missed target is never shown as met "
    "(99.499% shows as 99.49%)."
)
DIRECTION = {"better": "▲ better", "worse": "▼ worse", "same": "► same", "new": "—"}


def status_cell(status: Status | None, text: str | None = None, *, sub: str = "") -> Cell:
    if status is None:
        return Cell(text if text is not None else "—", None, "center", sub=sub)
    return Cell(text if text is not None else STATUS_LABEL[status], status, "center", True, sub)


NOT_MEASURED = "not measured"
NOT_MEASURED_LETTER = "n/m"


def month_cell(month: MonthValue) -> Cell:
    """A month's figure; a month without a result is "not measured" when the objective was in
    the customer's agreement then, "—" (not in the agreement) when it was not."""
    if month.status is None:
        return Cell(NOT_MEASURED if month.in_effect else "—", align="right")
    return Cell(percent(month.value) if month.value is not None else "no data", align="right", sub=status_label(month.status))


def summary_chips(counts: dict[Status, int]) -> tuple[Chip, ...]:
    return tuple(Chip(f"{counts.get(s, 0)} {STATUS_LABEL[s]}", s) for s in (Status.RED, Status.AMBER, Status.GREEN, Status.NO_DATA))


def box_table(box: BostonBox, board: bool = False) -> Table:
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


def _counts_sentence(counts: dict[Status, int]) -> str:
    total = sum(counts.values())
    parts = [f"{counts[s]} {STATUS_LABEL[s]}" for s in (Status.RED, Status.AMBER, Status.GREEN, Status.NO_DATA) if counts.get(s)]
    return f"{total} objective{'s' if total != 1 else ''}: " + ", ".join(parts) + "."


# ------------------------------------------------------------------ the customer report


def customer_document(report: CustomerReport) -> Document:
    tz = report.timezone
    month = period_label(report.period)
    counts = report.counts
    shorts = tuple(period_short(p) for p in report.months)
    sections = [
        _glance(report, shorts),
        _objectives(report),
        _trends(report, shorts),
        _incidents(report),
        _outages(report),
        _maintenance(report),
        _coverage(report),
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
        _agreements(report.agreements),
    ]
    red = counts[Status.RED]
    verdict = f"{red} RED" if red else "all targets met" if not counts[Status.NO_DATA] else "no target missed"
    return Document(
        kind="customer",
        title=f"IT service report: {month}",
        subtitle=report.customer.name,
        subject=f"{report.customer.name}: IT service report for {month} ({verdict})",
        period=report.period,
        meta=(
            ("Period", f"{month} ({tz} time)"),
            ("Issued", day_text(report.issued)),
            ("Figures", "final" if report.final else "period to date, not final"),
        ),
        summary=summary_chips(counts),
        banner="" if report.final else "PROVISIONAL: this month is not over or not final yet; figures may still change.",
        sections=tuple(s for s in sections if s is not None),
        footer=(STATUS_MEANING, ROUNDING, "This report holds your organisation's figures only."),
        charts=tuple(
            TrendChart(f"trend-{t.service}", f"{t.name}: last twelve months", shorts, t.panels) for t in report.trends
        ),
    )


def _glance(report: CustomerReport, shorts: tuple[str, ...]) -> Section:
    rows = []
    for row in report.rows:
        cells = [Cell(row.service_name, bold=True), Cell(row.short)]
        for m in row.history:
            if m.status is not None:
                cells.append(status_cell(m.status, STATUS_LETTER[m.status]))
            else:
                cells.append(Cell(NOT_MEASURED_LETTER if m.in_effect else "", align="center"))
        rows.append(tuple(cells))
    columns = (Column("Service", weight=2.4), Column("Objective", weight=2.4)) + tuple(
        Column(s.replace(" ", "\n"), "center", 0.62) for s in shorts
    )
    blocks: list = [Paragraph(_counts_sentence(report.counts))]
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
        rows.append(
            (
                Cell(row.service_name, bold=True),
                Cell(row.measure),
                Cell(target_text(r.target), align="right", sub=warning),
                month_cell(before2),
                month_cell(before1),
                Cell(percent(r.value), align="right", bold=True),
                status_cell(r.status),
                Cell(DIRECTION[row.direction], align="center"),
            )
        )
    return Section(
        "Objectives this month",
        (
            Table(
                columns,
                tuple(rows),
                note="Direction compares this month with last month as shown (rounded down). "
                f"Under a month, {NOT_MEASURED}: in your agreement then, but no figures were recorded; "
                "—: not in your agreement then.",
            ),
        ),
    )


def _trends(report: CustomerReport, shorts: tuple[str, ...]) -> Section:
    if not report.trends:
        return Section("Twelve-month trend", (Paragraph("Nothing to chart.", "muted"),))
    blocks = [
        Paragraph(
            f"{shorts[0]} to {shorts[-1]}. The dashed line is the target. Each point carries its status "
            "(circle GREEN, diamond AMBER, cross RED); gaps are months with no value."
        )
    ]
    for trend in report.trends:
        described = "; ".join(
            f"{p.measure}: {percent(p.values[-1]) if p.values[-1] is not None else 'no data'} this month, target {target_text(p.targets[-1]) if p.targets[-1] is not None else '—'}"
            for p in trend.panels
        )
        blocks.append(Figure(f"trend-{trend.service}", f"{trend.name}, twelve months. {described}.", trend.name))
    return Section("Twelve-month trend by service", tuple(blocks))


def _incidents(report: CustomerReport) -> Section | None:
    if not report.incidents:
        return None
    rows = tuple(
        (
            Cell(r.objective.priority or "", bold=True, align="center"),
            Cell(r.measure),
            Cell(str(r.met), align="right"),
            Cell(str(r.breached), align="right"),
            Cell(percent(r.result.value) if r.result else "—", align="right", sub=f"target {target_text(r.objective.target)}"),
            status_cell(r.result.status if r.result else None),
        )
        for r in report.incidents
    )
    blocks: list = [
        Table(
            (
                Column("Priority", "center", 0.8),
                Column("Measure", weight=3.3),
                Column("Met", "right", 0.6),
                Column("Breached", "right", 0.8),
                Column("Result", "right", 1.0),
                Column("Status", "center", 0.9),
            ),
            rows,
            note="Incidents count in the month their outcome was decided: when the clock stopped (met) "
            "or when the target time ran out (breached).",
        )
    ]
    if report.breached:
        blocks.append(Paragraph("Breached incidents", "heading"))
        blocks.append(
            Table(
                (
                    Column("Incident", weight=1.5),
                    Column("Priority", "center", 0.8),
                    Column("Measure", weight=1.6),
                    Column("Opened", weight=1.3),
                    Column("Target missed", weight=1.3),
                    Column("Clock stopped", weight=1.3),
                ),
                tuple(
                    (
                        Cell(b.id, bold=True),
                        Cell(b.priority, align="center"),
                        Cell(b.measure),
                        Cell(moment(b.opened_at, report.timezone)),
                        Cell(moment(b.breached_s, report.timezone)),
                        Cell(moment(b.stopped_at, report.timezone) if b.stopped_at else "still open"),
                    )
                    for b in report.breached
                ),
            )
        )
    else:
        blocks.append(Paragraph("No incident breached its target this month."))
    return Section("Incidents by priority", tuple(blocks))


def _outages(report: CustomerReport) -> Section | None:
    if not any(row.objective.type.value == "availability" for row in report.rows):
        return None
    if not report.outages:
        return Section("Largest outages", (Paragraph("No outage during service hours this month."),))
    totals = "; ".join(
        f"{s.service_name}: {s.count} outage{'s' if s.count != 1 else ''}, {in_service_hours(s.counted_s)}"
        for s in report.outage_summary
    )
    rows = tuple(
        (
            Cell(o.service_name, bold=True),
            Cell(moment(o.start_s, report.timezone)),
            Cell(moment(o.end_s, report.timezone)),
            Cell(service_time(o.counted_s), align="right", sub=_elapsed(o.start_s, o.end_s, o.counted_s)),
        )
        for o in report.outages
    )
    return Section(
        "Largest outages",
        (
            Paragraph(f"Service down during counted service hours, longest first. In all: {totals}."),
            Table(
                (Column("Service", weight=2.2), Column("Start", weight=1.4), Column("End", weight=1.4), Column("Duration", "right", 1.2)),
                rows,
                note="Duration is the time counted against the target: inside service hours, outside excluded "
                "maintenance. Where an outage ran on outside them, its elapsed time from start to end is given as well.",
            ),
        ),
    )


def _elapsed(start_s: float, end_s: float, counted_s: float) -> str:
    """`of 2 d 14 h elapsed` under a counted duration when the outage ran on outside service
    hours (or excluded maintenance); nothing when the two are the same."""
    return "" if abs((end_s - start_s) - counted_s) < 1 else f"of {duration(end_s - start_s)} elapsed"


def _maintenance(report: CustomerReport) -> Section:
    intro = Paragraph(
        "Planned work on your services this month, and whether it was excluded from the figures. "
        "Work is excluded only when it was announced with the notice your agreement requires and was "
        "not an emergency. If you disagree with an exclusion, raise it at the service review."
    )
    if not report.maintenance:
        return Section("Planned maintenance", (intro, Paragraph("No maintenance on your services this month.")))
    rows = []
    for m in report.maintenance:
        w = m.window
        treatment = "EXCLUDED" if m.excluded else "COUNTED" if m.excluded is False else "PARTLY EXCLUDED"
        rows.append(
            (
                Cell(m.service_name, bold=True),
                Cell(span(w.start_at, w.end_at, report.timezone), sub=duration(w.end_at.timestamp() - w.start_at.timestamp())),
                Cell(w.reason or "(no reason given)", sub="emergency" if w.emergency else ""),
                Cell(moment(w.announced_at, report.timezone) if w.announced_at else "not announced"),
                Cell(treatment, bold=True, sub="; ".join(m.reasons)),
            )
        )
    return Section(
        "Planned maintenance",
        (
            intro,
            Table(
                (
                    Column("Service", weight=1.5),
                    Column("When", weight=1.6),
                    Column("Reason", weight=1.7),
                    Column("Announced", weight=1.2),
                    Column("Treatment", weight=2.3),
                ),
                tuple(rows),
            ),
        ),
    )


def _coverage(report: CustomerReport) -> Section:
    items = []
    for gap in report.gaps:
        when = _gap_when(gap.start_s, gap.end_s, report.timezone)
        policy = missing_data_words(gap.policy) if gap.policy != "mixed" else "treated as each objective's agreement says"
        items.append(f"{gap.service_name} had no data for {service_time(gap.counted_s)} {when}; {policy}.")
    more, more_s = report.gaps_not_listed
    if more:
        items.append(f"{more} shorter gap{'s' if more != 1 else ''}, {in_service_hours(more_s)} in all.")
    for row in report.rows:
        r = row.result
        if r.coverage is not None and r.coverage < 1 and r.value is not None:
            items.append(
                f"{row.service_name} ({row.short.lower()}): measured for {ratio_percent(r.coverage)} of its service hours "
                f"({calendar_hours(row)})."
            )
    for row in report.no_data:
        items.append(f"{row.service_name} ({row.short.lower()}): nothing measured this month, so it shows NO DATA.")
    if not items:
        return Section("Data coverage", (Paragraph("Every objective was measured throughout its service hours this month."),))
    return Section(
        "Data coverage",
        (
            Paragraph("Times when we had no measurements, and how your agreement treats them."),
            Bullets(tuple(items)),
        ),
    )


def calendar_hours(row: ObjectiveRow) -> str:
    """The hours part of an objective's measure words (`24/7`, `Mon–Fri 08:00–18:00 …`)."""
    return row.measure.split(", ", 1)[1] if ", " in row.measure else row.measure


def _gap_when(start_s: float, end_s: float, tz: str) -> str:
    lo, hi = local(start_s, tz), local(end_s, tz)
    if lo.date() == hi.date() or (hi - lo).total_seconds() <= 86400 and hi.hour == 0 and hi.minute == 0:
        return f"on {lo.day} {lo:%B} ({lo:%H:%M}–{hi:%H:%M})"
    return f"from {lo.day} {lo:%B %H:%M} to {hi.day} {hi:%B %H:%M}"


def _agreements(agreements: tuple[AgreementInfo, ...], board: bool = False) -> Section:
    rows = []
    for a in agreements:
        words, _ = review_words(a.review_due, a.issued)
        rows.append(
            (
                Cell(a.name, bold=True, sub=a.id),
                *((Cell(", ".join(a.customers)),) if board else ()),
                Cell(effective_text(a)),
                Cell(words, status=Status.AMBER if a.review_soon else None, bold=a.review_soon),
            )
        )
    columns = (Column("Agreement", weight=2.2),) + ((Column("Customers", weight=2.2),) if board else ()) + (
        Column("In effect", weight=2.2),
        Column("Annual review", weight=2.0),
    )
    return Section("Your agreement" if not board else "Agreements due for review", (Table(columns, tuple(rows)),))


# ------------------------------------------------------------------ the board report


def board_document(report: BoardReport) -> Document:
    month = period_label(report.period)
    counts = report.counts
    shorts = tuple(period_short(p) for p in report.months)
    sections = [
        Section(
            "At a glance",
            (
                Paragraph(_board_counts_sentence(report) if report.results else "No results this month."),
                Figure(
                    "board-status",
                    "Results (one per objective per customer) by status in each of the last twelve months: "
                    + "; ".join(
                        f"{s}: {c.get(Status.GREEN, 0)} green, {c.get(Status.AMBER, 0)} amber, {c.get(Status.RED, 0)} red"
                        + (f", {c[Status.NO_DATA]} no data" if c.get(Status.NO_DATA) else "")
                        for s, (_, c) in zip(shorts, report.monthly_counts)
                    ),
                    "Results by status, twelve months (one per objective per customer)",
                ),
            ),
        ),
        _matrix(report),
        Section(
            "The portfolio in the Boston Box",
            (
                Paragraph("Every service with results this month, in each quadrant where its value lies, with the worst status across its customers."),
                box_table(report.box, board=True),
            ),
        ),
        _worst(report),
        _board_reviews(report),
        _assistant(report),
    ]
    return Document(
        kind="board",
        title=f"Board report: IT service performance, {month}",
        subtitle="All customers and services",
        subject=f"Board report: IT service performance for {month}",
        period=report.period,
        meta=(
            ("Period", f"{month} ({report.timezone} time)"),
            ("Issued", day_text(report.issued)),
            ("Figures", "final" if report.final else "period to date, not final"),
        ),
        summary=summary_chips(counts),
        summary_label=RESULTS_LABEL,
        banner="" if report.final else "PROVISIONAL: this month is not over or not final yet; figures may still change.",
        sections=tuple(sections),
        footer=(STATUS_MEANING, ROUNDING),
        charts=(StatusBars("board-status", "", shorts, tuple(c for _, c in report.monthly_counts)),),
    )


RESULTS_LABEL = "Results this month: one per objective per customer"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _spread_words(status: Status, found: Spread) -> str:
    """`1 objective RED for 3 customers`, and the results when they are not one per customer
    (`21 objectives GREEN for 6 customers, 43 results`)."""
    words = f"{_plural(found.objectives, 'objective')} {STATUS_LABEL[status]} for {_plural(found.customers, 'customer')}"
    return words if found.results == found.customers else f"{words}, {_plural(found.results, 'result')}"


def _board_counts_sentence(report: BoardReport) -> str:
    """The board's counts in words that agree with the chips: the chips count results (one per
    objective per customer), so `3 RED` over three customers is one objective shared by three."""
    found = report.spread
    objectives = len({(r.agreement, r.objective) for r in report.results})
    head = (
        f"{_plural(len(report.customers), 'customer')}, {_plural(len(report.matrix), 'service')}, "
        f"{_plural(objectives, 'objective')}. An objective is scored once for each customer its agreement covers: "
        f"{_plural(len(report.results), 'result')} this month. "
    )
    order = (Status.RED, Status.AMBER, Status.NO_DATA, Status.GREEN)
    words = head + "; ".join(_spread_words(s, found[s]) for s in order if s in found) + "."
    statuses: dict[tuple[str, str], set[Status]] = {}
    for r in report.results:
        statuses.setdefault((r.agreement, r.objective), set()).add(r.status)
    mixed = sum(len(s) > 1 for s in statuses.values())
    if mixed:
        words += (
            f" {_plural(mixed, 'objective')} {'has' if mixed == 1 else 'have'} a different status for different customers, "
            "so counted under each."
        )
    return words


def _matrix(report: BoardReport) -> Section:
    columns = (Column("Service", weight=2.0),) + tuple(Column(c.name, "center", 1.0) for c in report.customers)
    rows = tuple(
        (Cell(row.name, bold=True),) + tuple(status_cell(s) if s else Cell("·", align="center") for s in row.cells)
        for row in report.matrix
    )
    return Section(
        "Customers and services",
        (
            Paragraph("The worst status of each service's objectives for each customer this month; · = not received."),
            Table(columns, rows),
        ),
    )


def _worst(report: BoardReport) -> Section:
    if not report.worst:
        return Section("Objectives most at risk", (Paragraph("Every objective met its target and warning level this month."),))
    rows = tuple(
        (
            Cell(w.service_name, bold=True, sub=w.agreement),
            Cell(w.measure),
            Cell(", ".join(w.customers)),
            Cell(target_text(w.result.target), align="right"),
            Cell(percent(w.result.value), align="right", bold=True),
            status_cell(w.result.status),
            Cell(ratio_percent(w.result.error_budget_remaining), align="right"),
        )
        for w in report.worst
    )
    return Section(
        "Objectives most at risk",
        (
            Paragraph(_worst_sentence(report)),
            Table(
                (
                    Column("Service", weight=1.6),
                    Column("Objective", weight=2.4),
                    Column("Customers", weight=2.0),
                    Column("Target", "right", 0.8),
                    Column("Value", "right", 0.9),
                    Column("Status", "center", 0.9),
                    Column("Budget left", "right", 0.9),
                ),
                rows,
                note="Budget left: the share of the shortfall the target allows that is still unused; negative when overspent.",
            ),
        ),
    )


def _worst_sentence(report: BoardReport) -> str:
    """How many objectives (and for how many customers) missed a target, fell below a warning
    level or had no data; the table has one row per figure, customers with the same figure
    together."""
    failing = [r for r in report.results if r.status is not Status.GREEN]
    objectives = len({(r.agreement, r.objective) for r in failing})
    customers = len({r.customer for r in failing})
    words = (
        f"{_plural(objectives, 'objective')} fell short this month (RED, AMBER or NO DATA) for "
        f"{_plural(customers, 'customer')}"
        + (f" ({_plural(len(failing), 'result')})" if len(failing) != customers else "")
        + ". Worst first: RED, then NO DATA, then AMBER; customers with the same figure share a row"
    )
    if report.worst_total > len(report.worst):
        words += f"; the {len(report.worst)} worst rows of {report.worst_total} are shown"
    return words + "."


def _board_reviews(report: BoardReport) -> Section:
    section = _agreements(report.reviews, board=True)
    blocks = list(section.blocks) if report.reviews else [Paragraph("No agreement is due for review in the next 90 days.")]
    if report.next_reviews:
        blocks.append(
            Paragraph(
                "Later reviews: "
                + "; ".join(f"{a.name}: {day_text(a.review_due) if a.review_due else 'no date set'}" for a in report.next_reviews)
                + ".",
                "muted",
            )
        )
    return Section("Agreements due for review", tuple(blocks))


def _assistant(report: BoardReport) -> Section:
    blocks: list = [
        Paragraph(
            "Suggestions for the annual review, from the last twelve months. Targets met by a wide margin "
            "every month (GREEN, at least three quarters of the error budget unused, at least six months of data) "
            "could rise; objectives missed in three or more months need a look at the target or at the service."
        ),
        Paragraph("Targets that could rise", "heading"),
    ]
    if report.raise_targets:
        blocks.append(
            Table(
                (Column("Service", weight=1.6), Column("Objective", weight=2.6), Column("Customers", weight=2.2), Column("Target", "right", 0.8), Column("Lowest month", "right", 1.0), Column("Months", "right", 0.7)),
                tuple(
                    (
                        Cell(h.service_name, bold=True, sub=h.agreement),
                        Cell(h.measure),
                        Cell(", ".join(h.customers)),
                        Cell(target_text(h.target), align="right"),
                        Cell(percent(h.lowest), align="right"),
                        Cell(str(h.months_with_data), align="right"),
                    )
                    for h in report.raise_targets
                ),
            )
        )
    else:
        blocks.append(Paragraph("None this year.", "muted"))
    blocks.append(Paragraph("Needs attention", "heading"))
    if report.attention:
        blocks.append(
            Table(
                (Column("Service", weight=1.6), Column("Objective", weight=2.6), Column("Customers", weight=2.2), Column("Target", "right", 0.8), Column("Months RED", "right", 0.9), Column("Lowest month", "right", 1.0)),
                tuple(
                    (
                        Cell(h.service_name, bold=True, sub=h.agreement),
                        Cell(h.measure),
                        Cell(", ".join(h.customers)),
                        Cell(target_text(h.target), align="right"),
                        Cell(f"{h.months_missed} of 12", align="right", status=Status.RED, bold=True),
                        Cell(percent(h.lowest), align="right"),
                    )
                    for h in report.attention
                ),
            )
        )
    else:
        blocks.append(Paragraph("None this year.", "muted"))
    return Section("Annual review assistant", tuple(blocks))


def trend_alt(panel: TrendPanel) -> str:
    return f"{panel.measure}: " + ", ".join(percent(v) if v is not None else "—" for v in panel.values)


__all__ = ["Document", "customer_document", "board_document", "ObjectiveRow"]
