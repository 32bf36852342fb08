"""A report laid out as a document: a title, sections of paragraphs, tables and figures, and
the charts to draw. The customer report's view and the board report's view make one; the HTML,
text and PDF renderers only lay it out, so the three formats say the same thing in the same
words and one test of the words covers them all. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from worker.domain.model import Status
from worker.reports.customer.model import TrendPanel

Align = Literal["left", "right", "center"]
TableStyle = Literal["normal", "strip", "box"]  # strip: narrow status cells; box: 2 × 2 quadrants
Tone = Literal["", "muted", "heading"]  # heading: a sub-heading within a section
Kind = Literal["customer", "board", "supplier", "catalogue", "portfolio"]  # catalogue, portfolio: SPEC 9.1
KIND_LABEL = {"customer": "MONTHLY SERVICE REPORT", "board": "BOARD REPORT", "supplier": "SUPPLIER SCORECARD",
              "catalogue": "SERVICE CATALOGUE", "portfolio": "SERVICE PORTFOLIO"}


@dataclass(frozen=True)
class Chip:
    text: str
    status: Status | None = None


@dataclass(frozen=True)
class Cell:
    text: str = ""
    status: Status | None = None  # coloured background; the text always carries the label
    align: Align = "left"
    bold: bool = False
    sub: str = ""  # a second, smaller line
    chips: tuple[Chip, ...] = ()  # a list of labelled items (the Boston Box)


@dataclass(frozen=True)
class Column:
    title: str
    align: Align = "left"
    weight: float = 1.0  # share of the table width


@dataclass(frozen=True)
class Table:
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    style: TableStyle = "normal"
    note: str = ""


@dataclass(frozen=True)
class Paragraph:
    text: str
    tone: Tone = ""


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
    kind: Kind
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

    @property
    def label(self) -> str:
        """The words above the title: what kind of report this is."""
        return KIND_LABEL[self.kind]
