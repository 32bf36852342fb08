"""A report document as an A4 PDF with fpdf2 (pure Python: installs from pip alone).

The text is set in DejaVu Sans, which matplotlib ships as a file, so no system font is
needed and every character of a report (≥, –, ▲) is covered and extractable. The output
is the same bytes for the same document (the creation date is the report's issue date).
"""

from __future__ import annotations

import io
from datetime import date, datetime, time, timezone
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from worker.domain.model import Status
from worker.reports.view import Bullets, Cell, Document, Figure, Paragraph, Table
from worker.reports.words import BORDER, DARK, GREY, NHS_BLUE, PALE, STATUS_COLOURS

FONT = "DejaVu"
MARGIN = 15.0
PAGE_WIDTH = 210.0
CONTENT = PAGE_WIDTH - 2 * MARGIN


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


class _Pdf(FPDF):
    def __init__(self, document: Document):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.document = document
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=18)
        fonts = _font_dir()
        self.add_font(FONT, "", str(fonts / "DejaVuSans.ttf"))
        self.add_font(FONT, "B", str(fonts / "DejaVuSans-Bold.ttf"))
        self.add_font(FONT, "I", str(fonts / "DejaVuSans-Oblique.ttf"))
        self.set_title(document.subject)
        self.set_author("sla-worker")
        self.set_subject(document.title)
        self.set_lang("en-GB")

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font(FONT, "", 8)
        self.set_text_color(*_rgb(GREY))
        self.cell(0, 5, f"{self.document.title} · {self.document.subtitle}", align="L")
        self.ln(8)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 8)
        self.set_text_color(*_rgb(GREY))
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")


def render_pdf(document: Document, images: dict[str, bytes], issued: date) -> bytes:
    pdf = _Pdf(document)
    pdf.set_creation_date(datetime.combine(issued, time(6, 0), tzinfo=timezone.utc))
    pdf.add_page()
    _title(pdf, document)
    for section in document.sections:
        _section_title(pdf, section.title)
        for block in section.blocks:
            if isinstance(block, Paragraph):
                _paragraph(pdf, block)
            elif isinstance(block, Bullets):
                _bullets(pdf, block)
            elif isinstance(block, Figure):
                _figure(pdf, images.get(block.chart), block)
            elif isinstance(block, Table):
                if block.style == "box":
                    _box(pdf, block)
                else:
                    _table(pdf, block)
    pdf.ln(4)
    pdf.set_draw_color(*_rgb(BORDER))
    pdf.line(MARGIN, pdf.get_y(), PAGE_WIDTH - MARGIN, pdf.get_y())
    pdf.ln(2)
    pdf.set_font(FONT, "", 8)
    pdf.set_text_color(*_rgb(GREY))
    for line in document.footer:
        pdf.multi_cell(CONTENT, 4, line, new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.ln(1)
    return bytes(pdf.output())


def _title(pdf: _Pdf, document: Document) -> None:
    top = pdf.get_y()
    pdf.set_fill_color(*_rgb(NHS_BLUE))
    pdf.rect(MARGIN, top, CONTENT, 34, style="F")
    pdf.set_text_color(255, 255, 255)
    pdf.set_xy(MARGIN + 6, top + 4)
    pdf.set_font(FONT, "B", 8.5)
    pdf.cell(CONTENT - 12, 5, "BOARD REPORT" if document.kind == "board" else "MONTHLY SERVICE REPORT", new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(MARGIN + 6)
    pdf.set_font(FONT, "B", 16)
    pdf.cell(CONTENT - 12, 9, document.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(MARGIN + 6)
    pdf.set_font(FONT, "", 12)
    pdf.cell(CONTENT - 12, 7, document.subtitle, new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(MARGIN + 6)
    pdf.set_font(FONT, "", 8.5)
    pdf.cell(CONTENT - 12, 5, "  ·  ".join(f"{k}: {v}" for k, v in document.meta), new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(top + 37)
    if document.banner:
        pdf.set_fill_color(255, 244, 214)
        pdf.set_text_color(*_rgb(DARK))
        pdf.set_font(FONT, "B", 10)
        pdf.multi_cell(CONTENT, 6, document.banner, fill=True, new_x="LMARGIN", new_y="NEXT", padding=2)
        pdf.ln(3)
    width = CONTENT / max(len(document.summary), 1)
    pdf.set_font(FONT, "B", 11)
    for chip in document.summary:
        background, foreground = STATUS_COLOURS[chip.status or Status.NO_DATA]
        pdf.set_fill_color(*_rgb(background))
        pdf.set_text_color(*_rgb(foreground))
        pdf.cell(width - 1.5, 9, chip.text, align="C", fill=True)
        pdf.set_x(pdf.get_x() + 1.5)
    pdf.ln(12)


def _section_title(pdf: _Pdf, title: str) -> None:
    if pdf.get_y() > 250:
        pdf.add_page()
    pdf.ln(3)
    pdf.set_font(FONT, "B", 13)
    pdf.set_text_color(*_rgb(NHS_BLUE))
    pdf.cell(CONTENT, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(*_rgb(NHS_BLUE))
    pdf.set_line_width(0.5)
    pdf.line(MARGIN, pdf.get_y(), PAGE_WIDTH - MARGIN, pdf.get_y())
    pdf.set_line_width(0.2)
    pdf.ln(2.5)


def _paragraph(pdf: _Pdf, block: Paragraph) -> None:
    if block.tone == "heading":
        pdf.ln(1)
        pdf.set_font(FONT, "B", 10.5)
        pdf.set_text_color(*_rgb(DARK))
        pdf.multi_cell(CONTENT, 6, block.text, new_x="LMARGIN", new_y="NEXT")
        return
    pdf.set_font(FONT, "", 9.5)
    pdf.set_text_color(*_rgb(GREY if block.tone == "muted" else DARK))
    pdf.multi_cell(CONTENT, 5, block.text, new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.ln(1.5)


def _bullets(pdf: _Pdf, block: Bullets) -> None:
    pdf.set_font(FONT, "", 9.5)
    pdf.set_text_color(*_rgb(DARK))
    for item in block.items:
        pdf.set_x(MARGIN)
        pdf.cell(5, 5, "•")
        pdf.multi_cell(CONTENT - 5, 5, item, new_x="LMARGIN", new_y="NEXT", align="L")
        pdf.ln(0.8)
    pdf.ln(1)


def _figure(pdf: _Pdf, data: bytes | None, block: Figure) -> None:
    if data is None:
        _paragraph(pdf, Paragraph(f"[Chart] {block.alt}", "muted"))
        return
    from worker.reports.render_html import png_size

    w, h = png_size(data)
    height = CONTENT * h / w
    if pdf.get_y() + height + (7 if block.caption else 0) > pdf.h - 20:
        pdf.add_page()
    if block.caption:
        pdf.set_font(FONT, "B", 10.5)
        pdf.set_text_color(*_rgb(DARK))
        pdf.cell(CONTENT, 6, block.caption, new_x="LMARGIN", new_y="NEXT")
    pdf.image(io.BytesIO(data), x=MARGIN, w=CONTENT, h=height, alt_text=block.alt)
    pdf.ln(2)


def _style(cell: Cell) -> FontFace:
    if cell.status is not None:
        background, foreground = STATUS_COLOURS[cell.status]
        return FontFace(emphasis="BOLD", color=_rgb(foreground), fill_color=_rgb(background))
    # An explicit white fill: a cell without one takes the last fill colour used.
    return FontFace(emphasis="BOLD" if cell.bold else "", color=_rgb(DARK), fill_color=(255, 255, 255))


def _text(cell: Cell) -> str:
    if cell.chips:
        return "\n".join(chip.text for chip in cell.chips)
    return f"{cell.text}\n{cell.sub}" if cell.sub else cell.text


def _table(pdf: _Pdf, block: Table) -> None:
    strip = block.style == "strip"
    total = sum(c.weight for c in block.columns)
    widths = tuple(CONTENT * c.weight / total for c in block.columns)
    size = 7 if strip else 8
    pdf.set_font(FONT, "", size)
    pdf.set_text_color(*_rgb(DARK))
    pdf.set_draw_color(*_rgb(BORDER))
    aligns = tuple({"left": "LEFT", "right": "RIGHT", "center": "CENTER"}[c.align] for c in block.columns)
    with pdf.table(
        col_widths=widths,
        width=CONTENT,
        text_align=aligns,
        line_height=3.6 if strip else 4.0,
        padding=(1.2, 0.6) if strip else (1.4, 1.6),
        borders_layout="HORIZONTAL_LINES",
        headings_style=FontFace(emphasis="BOLD", color=_rgb(DARK), fill_color=_rgb("#E8EDEE"), size_pt=size),
        v_align="MIDDLE",
        repeat_headings=1,
    ) as table:
        heading = table.row()
        for column in block.columns:
            heading.cell(column.title)
        for cells in block.rows:
            row = table.row()
            for column, cell in zip(block.columns, cells):
                align = {"left": "LEFT", "right": "RIGHT", "center": "CENTER"}[cell.align if cell.align != "left" else column.align]
                row.cell(_text(cell), align=align, style=_style(cell))
    if block.note:
        pdf.ln(1)
        pdf.set_font(FONT, "I", 7.5)
        pdf.set_text_color(*_rgb(GREY))
        pdf.multi_cell(CONTENT, 3.8, block.note, new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.ln(2.5)


def _chip_lines(pdf: _Pdf, text: str, width: float) -> list[str]:
    pdf.set_font(FONT, "B", 7.5)
    return pdf.multi_cell(width, 3.6, text, dry_run=True, output="LINES")


def _box(pdf: _Pdf, block: Table) -> None:
    """The Boston Box: a 2 × 2 grid of labelled chips, one per service; a long name wraps,
    so the status word is never cut off."""
    label_w = CONTENT * 0.18
    cell_w = (CONTENT - label_w) / 2
    line_h, gap = 3.6, 1.2
    layout = []
    for row in block.rows:
        cells = []
        for cell in row[1:]:
            chips = cell.chips or ()
            cells.append([(chip, _chip_lines(pdf, chip.text, cell_w - 5)) for chip in chips])
        height = max(sum(len(lines) * line_h + 1.6 + gap for _, lines in chips) for chips in cells) if cells else 0
        layout.append((row, cells, max(height, 10) + 2.5))
    if pdf.get_y() + 7 + sum(h for _, _, h in layout) > pdf.h - 20:
        pdf.add_page()
    top = pdf.get_y()
    pdf.set_font(FONT, "B", 8.5)
    pdf.set_text_color(*_rgb(DARK))
    pdf.set_fill_color(232, 237, 238)
    pdf.rect(MARGIN, top, CONTENT, 7, style="F")
    for i, column in enumerate(block.columns[1:]):
        pdf.set_xy(MARGIN + label_w + i * cell_w, top)
        pdf.cell(cell_w, 7, column.title, align="C")
    y = top + 7
    pdf.set_draw_color(*_rgb(BORDER))
    for row, cells, height in layout:
        pdf.set_fill_color(*_rgb(PALE))
        pdf.rect(MARGIN, y, label_w, height, style="FD")
        pdf.set_xy(MARGIN + 1.5, y + 1.5)
        pdf.set_font(FONT, "B", 8.5)
        pdf.set_text_color(*_rgb(DARK))
        pdf.multi_cell(label_w - 3, 4.2, row[0].text, align="L")
        for i, (cell, chips) in enumerate(zip(row[1:], cells)):
            x = MARGIN + label_w + i * cell_w
            pdf.rect(x, y, cell_w, height, style="D")
            if not chips:
                pdf.set_xy(x + 2, y + 2)
                pdf.set_font(FONT, "", 8)
                pdf.set_text_color(*_rgb(GREY))
                pdf.cell(cell_w - 4, 5, cell.text or "(none)")
            chip_y = y + 1.5
            for chip, lines in chips:
                background, foreground = STATUS_COLOURS[chip.status] if chip.status else (PALE, DARK)
                chip_h = len(lines) * line_h + 1.6
                pdf.set_fill_color(*_rgb(background))
                pdf.rect(x + 1.5, chip_y, cell_w - 3, chip_h, style="F")
                pdf.set_text_color(*_rgb(foreground))
                pdf.set_font(FONT, "B", 7.5)
                pdf.set_xy(x + 2.5, chip_y + 0.8)
                pdf.multi_cell(cell_w - 5, line_h, chip.text, align="L")
                chip_y += chip_h + gap
        y += height
    pdf.set_y(y + 4)
