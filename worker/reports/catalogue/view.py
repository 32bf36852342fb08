"""A service catalogue as a document ("Your IT services", SPEC 9.1), laid out by the reports'
HTML and PDF renderers, and the small Boston Box drawings it shows. Pure.

Each service: a table of plain facts (what it is, why you use it, who runs it, the service
hours), where its value lies — a small 2 × 2 box with its quadrants filled, drawn by
`catalogue.charts` — and what the agreement promises, target by target. The board's portfolio
is laid out the same way, with who receives each service instead of the promises.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from worker.reports.catalogue.model import CustomerCatalogue, PortfolioCatalogue, ServiceEntry
from worker.reports.document import Block, Cell, Chip, Column, Document, Figure, Paragraph, Section, Table
from worker.reports.view import agreements_table, effective_text
from worker.reports.words import AXIS_WORDS, QUADRANT_WORDS, QUADRANTS, day_text, target_text

ABOUT_BOX = (
    "The Boston Box places each service where its value lies: information for better decisions, or "
    "technology to work smarter; within the organisation, or outside it (with patients, partners and the public)."
)


@dataclass(frozen=True)
class QuadrantBox:
    """A small 2 × 2 drawing of one service's quadrants (`catalogue.charts` draws it)."""

    name: str  # the image's name in the document
    title: str  # the service's name
    value: tuple[str, ...]  # the quadrants filled


@dataclass(frozen=True)
class CatalogueDocument:
    document: Document
    boxes: tuple[QuadrantBox, ...]


def box_name(service: str) -> str:
    return f"box-{service}"


def value_words(value: Sequence[str]) -> str:
    return "; ".join(QUADRANT_WORDS[q] for q in value) if value else "Not placed in the Boston Box"


def _who(entry: ServiceEntry) -> str:
    owner = entry.owner or "The trust's IT department"
    return f"{owner}, with the supplier {entry.supplier}" if entry.supplier else owner


def _hours(entry: ServiceEntry) -> str:
    if not entry.hours:
        return "No service hours set"
    if len(entry.hours) == 1:
        return entry.hours[0][0]
    return "; ".join(f"{words} ({measured})" for words, measured in entry.hours)


def _facts(entry: ServiceEntry) -> tuple[Table, Table]:
    """What it is and why you use it; who runs it and when (two tables of two columns, so that
    each fact has its heading and the short ones sit side by side)."""
    return (
        Table(
            (Column("What it is", weight=1.0), Column("Why you use it", weight=1.0)),
            ((Cell(entry.summary or "—"), Cell(entry.purpose or "—")),),
        ),
        Table(
            (Column("Who runs it", weight=1.0), Column("Service hours", weight=1.0)),
            ((Cell(_who(entry)), Cell(_hours(entry))),),
        ),
    )


def _value_figure(entry: ServiceEntry) -> Figure:
    return Figure(box_name(entry.service), f"Where the value of {entry.name} lies (Boston Box): {value_words(entry.value)}.")


def _promises(entry: ServiceEntry, several_agreements: bool) -> Table:
    columns = (
        Column("What we promise", weight=3.0),
        Column("Target", "center", 0.8),
        Column("When it is measured", weight=2.6),
    ) + ((Column("Agreement", weight=1.3),) if several_agreements else ())
    rows = tuple(
        (
            Cell(p.promise, sub=p.note),
            Cell(target_text(p.target), align="center", bold=True),
            Cell(p.hours),
        ) + ((Cell(p.agreement),) if several_agreements else ())
        for p in entry.promises
    )
    return Table(columns, rows)


def _box_table(entries: Sequence[ServiceEntry], what: str) -> Table:
    """Every service in each quadrant where its value lies (the reports' `box` layout)."""

    def cell(quadrant: str) -> Cell:
        names = [e.name for e in entries if quadrant in e.value]
        return Cell(chips=tuple(Chip(n) for n in names)) if names else Cell(f"(no {what} here)")

    return Table(
        (Column("", weight=0.9), Column(AXIS_WORDS["internal"], weight=2), Column(AXIS_WORDS["external"], weight=2)),
        (
            (Cell(AXIS_WORDS["decisions"], bold=True), cell("decisions/internal"), cell("decisions/external")),
            (Cell(AXIS_WORDS["smarter"], bold=True), cell("smarter/internal"), cell("smarter/external")),
        ),
        style="box",
    )


def _boxes(entries: Sequence[ServiceEntry]) -> tuple[QuadrantBox, ...]:
    return tuple(QuadrantBox(box_name(e.service), e.name, tuple(q for q in QUADRANTS if q in e.value)) for e in entries)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def customer_catalogue_document(catalogue: CustomerCatalogue) -> CatalogueDocument:
    """"Your IT services": one customer's catalogue, and nothing of any other customer's."""
    several = len(catalogue.agreements) > 1
    names = ", ".join(a.name for a in catalogue.agreements)
    intro = (
        f"The IT services {catalogue.name} receives under {names}, in plain words: what each service is, why you "
        "use it, where its value lies, who runs it, when it is supported and what we promise. "
        "This is the document your annual service review is held over."
        if catalogue.agreements
        else f"{catalogue.name} has no agreement in effect or starting later: there are no services to describe."
    )
    sections = [
        Section(
            "Your agreements",
            (Paragraph(intro),) + ((agreements_table(catalogue.agreements),) if catalogue.agreements else ()),
        ),
    ]
    if catalogue.services:
        sections.append(
            Section("Where your services' value lies", (Paragraph(ABOUT_BOX), _box_table(catalogue.services, "service")))
        )
    for entry in catalogue.services:
        blocks: list[Block] = [*_facts(entry), _value_figure(entry)]
        if entry.promises:
            blocks += [Paragraph("What we promise", "heading"), _promises(entry, several)]
        sections.append(Section(entry.name, tuple(blocks)))
    document = Document(
        kind="catalogue",
        title="Your IT services",
        subtitle=catalogue.name,
        subject=f"Your IT services: {catalogue.name}",
        period="",
        meta=(
            ("Issued", day_text(catalogue.issued)),
            ("Services", str(len(catalogue.services))),
            ("Agreements", str(len(catalogue.agreements))),
        ),
        summary=(),
        banner="",
        sections=tuple(sections),
        footer=(
            "A target is the share of the stated hours (or of the incidents) that must meet the promise in each "
            "calendar month. How each month went is in your monthly service report.",
            f"Issued {day_text(catalogue.issued)} from the service configuration in force that day.",
        ),
    )
    return CatalogueDocument(document, _boxes(catalogue.services))


def _receivers(entry: ServiceEntry) -> Table | Paragraph:
    if not entry.receivers:
        return Paragraph("No customer receives it under a current agreement.", "muted")
    return Table(
        (Column("Customer", weight=2.2), Column("Agreement", weight=2.4), Column("In effect", weight=2.2)),
        tuple(
            (Cell(r.name, bold=True, sub=r.customer), Cell(r.agreement.name, sub=r.agreement.id), Cell(effective_text(r.agreement)))
            for r in entry.receivers
        ),
    )


def portfolio_catalogue_document(portfolio: PortfolioCatalogue) -> CatalogueDocument:
    """The board's portfolio in the catalogue's style: every service, who receives it and who
    runs it."""
    customers = {r.customer for e in portfolio.services for r in e.receivers}
    sections = [
        Section(
            "The portfolio in the Boston Box",
            (
                Paragraph(
                    f"{_plural(len(portfolio.services), 'service')} for {_plural(len(customers), 'customer')} under "
                    f"{_plural(len(portfolio.agreements), 'current agreement')}. " + ABOUT_BOX
                ),
                _box_table(portfolio.services, "service"),
            ),
        ),
        Section(
            "Agreements",
            (agreements_table(portfolio.agreements, board=True),) if portfolio.agreements
            else (Paragraph("No agreement in effect or starting later.", "muted"),),
        ),
    ]
    for entry in portfolio.services:
        sections.append(
            Section(entry.name, (*_facts(entry), _value_figure(entry), Paragraph("Received by", "heading"), _receivers(entry)))
        )
    document = Document(
        kind="portfolio",
        title="Service portfolio",
        subtitle="Every service, its customers and who runs it",
        subject="Service portfolio",
        period="",
        meta=(
            ("Issued", day_text(portfolio.issued)),
            ("Services", str(len(portfolio.services))),
            ("Customers", str(len(customers))),
        ),
        summary=(),
        banner="",
        sections=tuple(sections),
        footer=(
            "Each customer receives its own catalogue (sla-worker catalogue --customer ID) with the services and "
            "promises of its agreements only.",
            f"Issued {day_text(portfolio.issued)} from the service configuration in force that day.",
        ),
    )
    return CatalogueDocument(document, _boxes(portfolio.services))
