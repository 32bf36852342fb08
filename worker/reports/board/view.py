"""The board report as a document: at a glance (with twelve months of results by status), the
customer × service matrix, the portfolio in the Boston Box, the objectives most at risk, the
agreements due for review, the suppliers' underpinning contracts (SPEC 9.2) and the annual
review assistant. Pure."""

from __future__ import annotations

from worker.domain.model import Status
from worker.reports.board.model import (
    RED_BANDS,
    BoardReport,
    BoardSummary,
    ContractRow,
    CustomerStanding,
    Spread,
    StatusGroup,
)
from worker.reports.document import Block, Cell, Column, Document, Figure, Paragraph, Section, StatusBars, Table
from worker.reports.view import (
    ROUNDING,
    STATUS_MEANING,
    agreements_table,
    banner,
    box_table,
    effective_text,
    meta,
    names_text,
    status_cell,
    strip_cell,
    summary_chips,
)
from worker.reports.words import (
    STATUS_LABEL,
    day_text,
    percent,
    period_label,
    period_short,
    ratio_percent,
    review_words,
    short_measure,
    target_text,
)

RESULTS_LABEL = "Results this month: one per objective per customer"


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
        _matrix(report) if report.summary is None else _summary(report, report.summary),
        Section(
            "The portfolio in the Boston Box",
            (
                Paragraph("Every service with results this month, in each quadrant where its value lies, with the worst status across its customers."),
                box_table(report.box, board=True),
            ),
        ),
        _worst(report),
        _board_reviews(report),
        _suppliers(report, shorts),
        _assistant(report),
    ]
    return Document(
        kind="board",
        title=f"Board report: IT service performance, {month}",
        subtitle="All customers and services",
        subject=f"Board report: IT service performance for {month}",
        period=report.period,
        meta=meta(report.period, report.timezone, report.issued, report.final),
        summary=summary_chips(counts),
        summary_label=RESULTS_LABEL,
        banner=banner(report.final),
        sections=tuple(s for s in sections if s is not None),
        footer=(STATUS_MEANING, ROUNDING),
        charts=(StatusBars("board-status", "", shorts, tuple(c for _, c in report.monthly_counts)),),
    )



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
        f"{_plural(len(report.customers), 'customer')}, {_plural(report.services, 'service')}, "
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


KIND_WORDS = {"nhs-organisation": "NHS organisation"}
COUNT_ORDER = (Status.RED, Status.AMBER, Status.GREEN, Status.NO_DATA)


def kind_words(kind: str) -> str:
    """A customer kind as the board reads it: `primary-care` → `Primary care`."""
    words = KIND_WORDS.get(kind, kind.replace("-", " ").replace("_", " "))
    return words[:1].upper() + words[1:]


def _summary(report: BoardReport, summary: BoardSummary) -> Section:
    """Above MATRIX_MAX_CUSTOMERS customers: the matrix would be one column per customer, so
    the board sees the customers by kind and by agreement, the customers most at risk and
    how many RED objectives each customer has."""
    customers = len(report.customers)
    return Section(
        "Customers and services",
        (
            Paragraph(
                f"{_plural(customers, 'customer')} and {_plural(report.services, 'service')}: too many for one table of "
                f"every customer and service, so they are summed up below. {_plural(summary.with_red, 'customer')} "
                f"{'has' if summary.with_red == 1 else 'have'} at least one objective RED this month. Each customer's own "
                "monthly report has its full detail."
            ),
            Paragraph("By kind of customer", "heading"),
            _groups_table("Kind of customer", summary.by_kind, kinds=True),
            Paragraph("By agreement", "heading"),
            _groups_table("Agreement", summary.by_agreement, kinds=False),
            Paragraph("RED objectives per customer", "heading"),
            Table(
                (Column("RED objectives this month", weight=2.0), Column("Customers", "right", 1.0), Column("Share of customers", "right", 1.0)),
                tuple(
                    (
                        Cell(f"{band} RED", bold=True),
                        Cell(str(count), align="right"),
                        Cell(f"{100 * count / customers:.1f}%" if customers else "—", align="right"),
                    )
                    for band, count in summary.distribution
                ),
                note=f"Each customer counted once, by how many of its objectives were RED ({RED_BANDS} or more together).",
            ),
            Paragraph("Customers most at risk", "heading"),
            _standings_table(summary.worst_customers, customers),
        ),
    )


def _count_cell(status: Status, count: int) -> Cell:
    return status_cell(status, str(count)) if count and status is not Status.GREEN else Cell(str(count), align="right")


def _groups_table(title: str, groups: tuple[StatusGroup, ...], *, kinds: bool) -> Table:
    return Table(
        (Column(title, weight=2.6), Column("Customers", "right", 1.0))
        + tuple(Column(STATUS_LABEL[s], "right", 0.9) for s in COUNT_ORDER)
        + (Column("Customers with a RED", "right", 1.2),),
        tuple(
            (
                Cell(kind_words(g.name), bold=True) if kinds else Cell(g.name, bold=True, sub=g.key if g.key != g.name else ""),
                Cell(str(g.customers), align="right"),
            )
            + tuple(_count_cell(s, g.counts.get(s, 0)) for s in COUNT_ORDER)
            + (Cell(str(g.with_red), align="right", bold=bool(g.with_red)),)
            for g in groups
        ),
        note="RED, AMBER, GREEN, NO DATA: results this month, one per objective per customer.",
    )


def _standings_table(standings: tuple[CustomerStanding, ...], customers: int) -> Block:
    if not standings:
        return Paragraph("Every customer met every target and warning level this month.")
    return Table(
        (
            Column("Customer", weight=2.8),
            Column("Kind", weight=1.4),
            Column("RED", "right", 0.7),
            Column("AMBER", "right", 0.8),
            Column("NO DATA", "right", 0.8),
            Column("Objectives", "right", 1.0),
            Column("Least budget left", "right", 1.1),
        ),
        tuple(
            (
                Cell(s.name, bold=True, sub=s.customer),
                Cell(kind_words(s.kind)),
                _count_cell(Status.RED, s.red),
                _count_cell(Status.AMBER, s.amber),
                _count_cell(Status.NO_DATA, s.no_data),
                Cell(str(s.results), align="right"),
                Cell(ratio_percent(s.lowest_budget), align="right"),
            )
            for s in standings
        ),
        note=f"The {len(standings)} customers most at risk of {customers}: most RED objectives first, then the least "
        "error budget left (negative when overspent).",
    )


def _worst(report: BoardReport) -> Section:
    if not report.worst:
        return Section("Objectives most at risk", (Paragraph("Every objective met its target and warning level this month."),))
    rows = tuple(
        (
            Cell(w.service_name, bold=True, sub=w.agreement),
            Cell(w.measure),
            Cell(names_text(w.customers)),
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
    blocks: list[Block] = (
        [agreements_table(report.reviews, board=True)]
        if report.reviews
        else [Paragraph("No agreement is due for review in the next 90 days.")]
    )
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


def _suppliers(report: BoardReport, shorts: tuple[str, ...]) -> Section | None:
    """Each supplier's underpinning contract objectives (SPEC 9.2): this month's status, the
    twelve months' statuses and the contract's review. None when no contract is in effect."""
    if not report.contracts:
        return None
    red = [c for c in report.contracts if c.result and c.result.status is Status.RED]
    sentence = (
        f"{_plural(len(report.contracts), 'contract objective')} of "
        f"{_plural(len({c.contract.id for c in report.contracts}), 'underpinning contract')} with our suppliers; "
        + (
            f"{len(red)} missed {'its' if len(red) == 1 else 'their'} target this month: "
            + "; ".join(f"{c.supplier} on {c.service_name}" for c in red)
            + "."
            if red
            else "every one scored this month met its target."
        )
    )
    rows = tuple(
        (
            Cell(c.supplier, bold=True, sub=c.contract.id if c.contract.name == c.contract.id else f"{c.contract.name} ({c.contract.id})"),
            Cell(f"{c.service_name}: {c.measure}", sub=c.objective.id),
            Cell(target_text(c.objective.target), align="right"),
            Cell(percent(c.result.value) if c.result else "—", align="right", bold=True),
            status_cell(c.result.status if c.result else None, None if c.result else "not scored"),
            _review_cell(c),
        )
        for c in report.contracts
    )
    strip = tuple(
        (Cell(c.supplier, bold=True), Cell(f"{c.service_name}: {short_measure(c.objective)}"))
        + tuple(strip_cell(status, effective) for status, effective in zip(c.statuses, c.in_effect))
        for c in report.contracts
    )
    return Section(
        "Suppliers and underpinning contracts",
        (
            Paragraph(
                "What our suppliers owe the trust under their underpinning contracts, scored exactly as our "
                "agreements with customers are. " + sentence
            ),
            Table(
                (
                    Column("Supplier and contract", weight=2.0),
                    Column("Objective", weight=2.6),
                    Column("Target", "right", 0.8),
                    Column("Value", "right", 0.9),
                    Column("Status", "center", 0.9),
                    Column("Contract and review", weight=2.0),
                ),
                rows,
            ),
            Paragraph("Twelve months", "heading"),
            Table(
                (Column("Supplier", weight=2.4), Column("Objective", weight=2.4))
                + tuple(Column(s.replace(" ", "\n"), "center", 0.62) for s in shorts),
                strip,
                style="strip",
                note="One row per contract objective, one column per month (this month last). G = GREEN, A = AMBER, "
                "R = RED, – = NO DATA; n/m = not measured (contract in effect, no figures recorded); "
                "blank (·) = contract not in effect that month.",
            ),
        ),
    )


def _review_cell(row: ContractRow) -> Cell:
    words, _ = review_words(row.contract.review_due, row.contract.issued)
    soon = row.contract.review_soon
    return Cell(effective_text(row.contract), sub=words, status=Status.AMBER if soon else None, bold=soon)


def _assistant(report: BoardReport) -> Section:
    blocks: list[Block] = [
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
                        Cell(names_text(h.customers)),
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
                        Cell(names_text(h.customers)),
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
