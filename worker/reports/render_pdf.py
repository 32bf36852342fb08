"""A report document as an A4 PDF with fpdf2 (pure Python: installs from pip alone).

The text is set in DejaVu Sans, which matplotlib ships as a file, so no system font is
needed and every character of a report (≥, –, ▲) is covered and extractable. The output
is the same bytes for the same document (the creation date is the report's issue date).
"""

from __future__ import annotations

import copy
import hashlib
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace, SubsetMap, TTFFont
from fpdf.image_datastructures import RasterImageInfo
from fpdf.image_parsing import get_img_info
from fpdf.table import Cell as TableCell
from fpdf.table import RowLayoutInfo
from fpdf.table import Table as FpdfTable

from worker.domain.model import Status
from worker.reports.document import Block, Bullets, Cell, Chip, Document, Figure, Paragraph, Table
from worker.reports.words import BORDER, DARK, GREY, NHS_BLUE, PALE, STATUS_COLOURS

# fontTools logs every table of every font subset at INFO (hundreds of lines a report): the
# worker's log keeps its warnings only.
logging.getLogger("fontTools").setLevel(logging.WARNING)

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
        for style, file in (("", "DejaVuSans.ttf"), ("B", "DejaVuSans-Bold.ttf"), ("I", "DejaVuSans-Oblique.ttf")):
            self._add_parsed_font(style, _font_dir() / file)
        self.set_title(document.subject)
        self.set_author("sla-worker")
        self.set_subject(document.title)
        self.set_lang("en-GB")

    def _add_parsed_font(self, style: str, path: Path) -> None:
        """`add_font`, with the font file's character widths and glyph ids read once per
        process (reading them is a tenth of a second a font, more than laying out a report):
        each document gets its own copy of what writing it changes (the font tables, which the
        subsetter cuts down, the subset, the descriptor)."""
        fontkey = f"{FONT.lower()}{style}"
        parsed = _parsed_fonts.get(fontkey)
        if parsed is not None:
            font = _font_copy(parsed)
            font.i = len(self.fonts) + 1
            self.fonts[fontkey] = font
            return
        self.add_font(FONT, style, str(path))
        added = self.fonts[fontkey]
        if isinstance(added, TTFFont) and added.color_font is None:  # a colour font refers to its document
            _parsed_fonts[fontkey] = _font_copy(added)

    def _measure_key(self, *what: object) -> tuple[object, ...]:
        return (self.font_family, self.font_style, self.font_size_pt, *what)

    def height_of(self, width: float, line_h: float, text: str) -> float:
        """The height `multi_cell` would take for `text` in the current font (nothing drawn)."""
        height = self._dry_run(width, line_h, text, "HEIGHT")
        if not isinstance(height, float | int):  # fpdf2 types every kind of output as one union
            raise TypeError(f"multi_cell gave {type(height).__name__} for its height")
        return height

    def lines_of(self, width: float, line_h: float, text: str) -> list[str]:
        """The lines `multi_cell` would wrap `text` into in the current font (nothing drawn)."""
        lines = self._dry_run(width, line_h, text, "LINES")
        if not isinstance(lines, tuple):
            raise TypeError(f"multi_cell gave {type(lines).__name__} for its lines")
        return list(lines)

    def _dry_run(self, width: float, line_h: float, text: str, output: str) -> float | tuple[str, ...]:
        """`multi_cell(dry_run=True)`, measured once per process (every document has the same
        fonts). A dry run still numbers the characters it meets in the font's subset, in the
        order it meets them, and the PDF's bytes follow that numbering: so the first run is made
        on a scratch subset, and every run, first or not, gives the document's subset the same
        characters in the same order."""
        font = self.current_font
        if not isinstance(font, TTFFont):
            raise TypeError(f"no TrueType font set (got {type(font).__name__})")
        key = self._measure_key(output, width, line_h, text)
        found = _measured.get(key)
        if found is None:
            kept, font.subset = font.subset, SubsetMap(font)
            reserved = len(font.subset)
            try:
                made = self.multi_cell(width, line_h, text, dry_run=True, output=output)
            finally:
                scratch, font.subset = font.subset, kept
            picked = tuple(_code(g.unicode) for g, _ in list(scratch.items())[reserved:] if g is not None)
            if isinstance(made, list):
                found = (tuple(made), picked)
            elif isinstance(made, float | int):
                found = (made, picked)
            else:
                raise TypeError(f"multi_cell gave {type(made).__name__}")
            _remember(key, found)
        result, picked = found
        subset = font.subset
        for code in picked:
            subset.pick(code)
        return result

    def word_width(self, word: str) -> float:
        """`get_string_width` in the current font, measured once per process."""
        key = self._measure_key(word)
        found = _widths.get(key)
        if found is None:
            if len(_widths) >= _MEASURED_MAX:
                _widths.clear()
            found = _widths[key] = self.get_string_width(word)
        return found

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


_parsed_fonts: dict[str, TTFFont] = {}
_MEASURED_MAX = 20_000
_Measure = tuple[float | tuple[str, ...], tuple[int, ...]]  # a dry run's result, the characters it numbers
_measured: dict[tuple[object, ...], _Measure] = {}  # the texts recur in every report of an agreement
_widths: dict[tuple[object, ...], float] = {}


def _remember(key: tuple[object, ...], value: _Measure) -> None:
    if len(_measured) >= _MEASURED_MAX:
        _measured.clear()
    _measured[key] = value



def _code(unicode: int | tuple[int, ...]) -> int:
    """The character a glyph of a subset was picked for (unshaped text: one character)."""
    return unicode if isinstance(unicode, int) else unicode[0]


def _font_copy(font: TTFFont) -> TTFFont:
    """A copy of a parsed font as `add_font` leaves it: the read-only tables (widths, cmap,
    glyph ids) shared, the rest new."""
    clone = TTFFont.__new__(TTFFont)
    for name in TTFFont.__slots__:
        if hasattr(font, name):
            setattr(clone, name, getattr(font, name))
    reduced = _reduced_font(font)
    source = io.BytesIO(reduced[0]) if reduced else font.ttffile
    clone.ttfont = type(font.ttfont)(source, recalcTimestamp=False, fontNumber=font.collection_font_number, lazy=True)
    clone.desc = copy.copy(font.desc)
    clone.missing_glyphs = []
    clone.biggest_size_pt = 0
    clone._hbfont = None
    clone.subset = SubsetMap(clone)
    return clone


# The characters a report may use, cut from the font file once per process: fpdf2 reads the
# font's tables anew for every document it subsets, and DejaVu has 6,000 glyphs where a report
# uses under a hundred. Subsetting this cut to a document's glyphs gives the same bytes as
# subsetting the whole font (tested); a document using a character outside it gets the whole
# font (`_whole_fonts_where_needed`).
_REPORT_CHARACTERS = ((0x20, 0x250), (0x2000, 0x2070), (0x20A0, 0x20D0), (0x2100, 0x2150), (0x2190, 0x2300), (0x25A0, 0x2600))
_DROPPED_TABLES = ["FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "meta", "sbix", "CBDT", "CBLC", "EBDT", "EBLC", "EBSC",
                   "SVG ", "CPAL", "COLR"]  # as fpdf2's output drops them
_reduced: dict[str, tuple[bytes, frozenset[str]] | None] = {}


def _reduced_font(font: TTFFont) -> tuple[bytes, frozenset[str]] | None:
    """The font file cut to _REPORT_CHARACTERS, keeping everything fpdf2's own subsetting
    reads (glyph names, hinting, all names), and the names of the glyphs it holds whole."""
    key = f"{font.ttffile}#{font.collection_font_number}"
    if key in _reduced:
        return _reduced[key]
    from fontTools import subset as ftsubset  # type: ignore[import-untyped]

    whole = type(font.ttfont)(font.ttffile, recalcTimestamp=False, fontNumber=font.collection_font_number, lazy=True)
    codes = [c for first, end in _REPORT_CHARACTERS for c in range(first, end) if c in font.cmap]
    options = ftsubset.Options(
        notdef_outline=True, recommended_glyphs=True, notdef_glyph=True, glyph_names=True, legacy_kern=False,
        name_IDs=["*"], name_languages=["*"], name_legacy=True, prune_unicode_ranges=False,
        prune_codepage_ranges=False, recalc_bounds=False, recalc_max_context=False, hinting_tables=["*"],
    )
    options.drop_tables = list(_DROPPED_TABLES)
    options.layout_features = ["*"]
    reduced: tuple[bytes, frozenset[str]] | None = None
    if not font.is_cff and "glyf" in whole:  # tested on TrueType outlines only
        subsetter = ftsubset.Subsetter(options)
        subsetter.populate(unicodes=codes)
        subsetter.subset(whole)
        out = io.BytesIO()
        whole.save(out)
        # A glyph is complete in the cut when every character the whole font maps to it is
        # kept (the subset's character map is made from the glyphs: Ω and the ohm sign share one).
        kept = set(codes)
        outside = {name for code, name in font.cmap.items() if code not in kept}
        reduced = (out.getvalue(), frozenset(whole.getGlyphOrder()) - outside)
    _reduced[key] = reduced
    return reduced


def _whole_fonts_where_needed(pdf: FPDF) -> None:
    """A document that used a glyph not held whole by the cut (a character outside
    _REPORT_CHARACTERS, or one that shares its glyph with one outside) is subset from the
    whole font file."""
    for font in pdf.fonts.values():
        if not isinstance(font, TTFFont):
            continue
        reduced = _reduced.get(f"{font.ttffile}#{font.collection_font_number}")
        if reduced and not set(font.subset.get_all_glyph_names()) <= reduced[1]:
            font.ttfont = type(font.ttfont)(
                font.ttffile, recalcTimestamp=False, fontNumber=font.collection_font_number, lazy=True
            )


_IMAGES_MAX = 128
_image_infos: dict[str, RasterImageInfo] = {}  # the charts of a shared agreement recur in every report


def _place_image(pdf: _Pdf, data: bytes) -> None:
    """Give the document the parsed image for `data` before `FPDF.image` looks for it (by
    the MD5 it names images by): a PNG is decoded and recompressed once per process, not once
    per report it appears in."""
    name = hashlib.new("md5", data.strip(), usedforsecurity=False).hexdigest()
    images = pdf.image_cache.images
    if name in images:
        return
    info = _image_infos.get(name)
    if info is None:
        info = get_img_info(name, io.BytesIO(data), pdf.image_cache.image_filter)
        if info.get("iccp") is not None:  # an ICC profile is numbered per document: parsed each time
            return
        if len(_image_infos) >= _IMAGES_MAX:
            _image_infos.pop(next(iter(_image_infos)))
        _image_infos[name] = info
    placed = RasterImageInfo(info)
    placed.update({"i": len(images) + 1, "usages": 0, "iccp_i": None})
    images[name] = placed


def render_pdf(document: Document, images: dict[str, bytes], issued: date) -> bytes:
    pdf = _Pdf(document)
    pdf.set_creation_date(datetime.combine(issued, time(6, 0), tzinfo=timezone.utc))
    pdf.add_page()
    _title(pdf, document)
    for section in document.sections:
        _keep_together(pdf, SECTION_TITLE_H + _lead_height(pdf, section.blocks, images))
        _section_title(pdf, section.title)
        for number, block in enumerate(section.blocks):
            if isinstance(block, Paragraph):
                if block.tone == "heading":
                    _keep_together(pdf, HEADING_H + _lead_height(pdf, section.blocks[number + 1 :], images))
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
    _whole_fonts_where_needed(pdf)
    return bytes(pdf.output())


def _title(pdf: _Pdf, document: Document) -> None:
    top = pdf.get_y()
    pdf.set_fill_color(*_rgb(NHS_BLUE))
    pdf.rect(MARGIN, top, CONTENT, 34, style="F")
    pdf.set_text_color(255, 255, 255)
    pdf.set_xy(MARGIN + 6, top + 4)
    pdf.set_font(FONT, "B", 8.5)
    pdf.cell(CONTENT - 12, 5, document.label, new_x="LMARGIN", new_y="NEXT")
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
    if document.summary_label:
        pdf.set_font(FONT, "", 8.5)
        pdf.set_text_color(*_rgb(GREY))
        pdf.cell(CONTENT, 5, document.summary_label, new_x="LMARGIN", new_y="NEXT")
    width = CONTENT / max(len(document.summary), 1)
    pdf.set_font(FONT, "B", 11)
    for chip in document.summary:
        background, foreground = STATUS_COLOURS[chip.status or Status.NO_DATA]
        pdf.set_fill_color(*_rgb(background))
        pdf.set_text_color(*_rgb(foreground))
        pdf.cell(width - 1.5, 9, chip.text, align="C", fill=True)
        pdf.set_x(pdf.get_x() + 1.5)
    pdf.ln(12)


# ------------------------------------------------------------------ keeping a heading with what follows

SECTION_TITLE_H = 3 + 8 + 2.5  # space above, the title, the rule and space below
HEADING_H = 1 + 6  # a sub-heading (a Paragraph of tone "heading"), one line
FIRST_ROWS = 1  # a heading is kept with the header and this many rows of its table


def _keep_together(pdf: _Pdf, height: float) -> None:
    """A new page unless `height` fits above the page foot: a heading is never left alone at
    the foot of a page, apart from the first rows of what it heads."""
    if pdf.get_y() + height > pdf.page_break_trigger and pdf.get_y() > pdf.t_margin + 20:
        pdf.add_page()


def _lead_height(pdf: _Pdf, blocks: Sequence[Block], images: dict[str, bytes]) -> float:
    """The height of what must stay with a heading: its introductory paragraphs and the start
    of the first thing after them (a table's header and first rows, a chart, the Boston Box,
    the first bullet)."""
    height = 0.0
    for block in blocks:
        if isinstance(block, Paragraph):
            if block.tone == "heading":
                return height + HEADING_H
            height += _paragraph_height(pdf, block)
            continue
        if isinstance(block, Table):
            return height + (_box_height(pdf, block) if block.style == "box" else _table_start_height(pdf, block))
        if isinstance(block, Figure):
            return height + _figure_height(images.get(block.chart), block, pdf)
        if isinstance(block, Bullets):
            pdf.set_font(FONT, "", 9.5)
            first = block.items[0] if block.items else ""
            return height + pdf.height_of(CONTENT - 5, 5, first) + 1.8
    return height


def _paragraph_height(pdf: _Pdf, block: Paragraph) -> float:
    pdf.set_font(FONT, "", 9.5)
    return pdf.height_of(CONTENT, 5, block.text) + 1.5


def _figure_height(data: bytes | None, block: Figure, pdf: _Pdf) -> float:
    if data is None:
        return _paragraph_height(pdf, Paragraph(f"[Chart] {block.alt}", "muted"))
    from worker.reports.render_html import png_size

    w, h = png_size(data)
    return CONTENT * h / w + (6 if block.caption else 0) + 2


def _table_start_height(pdf: _Pdf, block: Table) -> float:
    """The header row and the first FIRST_ROWS rows, as fpdf2 will lay them out (of the first
    part, when the table is drawn in parts)."""
    block, label = _split(pdf, block)[0]
    layout = _table_layout(pdf, block)
    height = _row_height(pdf, layout, [c.title for c in block.columns], bold=True)
    for cells in block.rows[:FIRST_ROWS]:
        height += _row_height(pdf, layout, [_text(c) for c in cells], bold=False)
    return height + 1 + (_paragraph_height(pdf, Paragraph(label)) if label else 0)


def _row_height(pdf: _Pdf, layout: _TableLayout, texts: list[str], *, bold: bool) -> float:
    pdf.set_font(FONT, "B" if bold else "", layout.size)
    lines = [
        len(pdf.lines_of(w - 2 * layout.pad_x, layout.line_h, text))
        for w, text in zip(layout.widths, texts)
    ]
    return max(lines, default=1) * layout.line_h + 2 * layout.pad_y


# ------------------------------------------------------------------ sections and blocks


def _section_title(pdf: _Pdf, title: str) -> None:
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
    _place_image(pdf, data)
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


MIN_COLUMN = 6.0  # mm: a few characters of 8 pt with the padding; no column is ever narrower
MAX_COLUMN_SHARE = 0.5  # of the page: a word wider than this breaks rather than crowding the rest out


@dataclass(frozen=True)
class _TableLayout:
    widths: tuple[float, ...]
    size: float
    line_h: float
    pad_y: float
    pad_x: float


def _table_layout(pdf: _Pdf, block: Table) -> _TableLayout:
    size, line_h, pad_y, pad_x = _metrics(block)
    return _TableLayout(_fit_widths([c.weight for c in block.columns], _least_widths(pdf, block), CONTENT), size, line_h, pad_y, pad_x)


def _metrics(block: Table) -> tuple[float, float, float, float]:
    """Font size, line height, vertical and horizontal padding of a table's cells."""
    return (7, 3.6, 1.2, 0.6) if block.style == "strip" else (8, 4.0, 1.4, 1.6)


def _least_widths(pdf: _Pdf, block: Table) -> list[float]:
    """Each column's least width: a header (and a cell) wraps between its words only, so each
    column is at least as wide as its longest word, in the weight it is set in; never more
    than MAX_COLUMN_SHARE of the page (a longer word breaks) nor less than MIN_COLUMN."""
    size, _, _, pad_x = _metrics(block)
    least = [_longest_word(pdf, column.title, True, size) + 2 * pad_x + 0.8 for column in block.columns]
    for cells in block.rows:
        for i, cell in enumerate(cells[: len(least)]):
            if not cell.chips:
                words = max(_longest_word(pdf, cell.text, cell.bold or cell.status is not None, size), _longest_word(pdf, cell.sub, False, size))
                least[i] = max(least[i], words + 2 * pad_x + 0.8)
    return [min(max(w, MIN_COLUMN), CONTENT * MAX_COLUMN_SHARE) for w in least]


def _longest_word(pdf: _Pdf, text: str, bold: bool, size: float) -> float:
    pdf.set_font(FONT, "B" if bold else "", size)
    return max((pdf.word_width(word) for word in text.split()), default=0.0)


def _fit_widths(weights: list[float], least: list[float], total: float) -> tuple[float, ...]:
    """Widths in proportion to `weights`, except that no column is narrower than its `least`:
    a column that needs more gets it, and the others share what is left by their weights."""
    fixed: dict[int, float] = {}
    while True:
        free = [i for i in range(len(weights)) if i not in fixed]
        room = total - sum(fixed.values())
        share = sum(weights[i] for i in free)
        widths = {i: room * weights[i] / share for i in free} if share > 0 else {}
        short = [i for i in free if widths[i] < least[i]]
        if not short or room <= 0:
            break
        for i in short:
            fixed[i] = least[i]
        if len(fixed) == len(weights):
            break
    out = [fixed.get(i, widths.get(i, 0.0)) for i in range(len(weights))]
    scale = total / sum(out) if sum(out) > 0 else 1.0  # only when the words cannot all fit
    return tuple(w * scale for w in out)


def _table(pdf: _Pdf, block: Table) -> None:
    """A table; one too wide for the page (more columns than fit at their least widths) is
    drawn as several tables one under the other, each with the first column and as many of
    the others as fit, so no column is squeezed below a legible width."""
    parts = _split(pdf, block)
    for number, (part, label) in enumerate(parts, 1):
        if label:
            if number > 1:
                _keep_together(pdf, _table_start_height(pdf, part) + 6)
            _paragraph(pdf, Paragraph(label, "muted"))
        _table_part(pdf, part)


def _split(pdf: _Pdf, block: Table) -> list[tuple[Table, str]]:
    """The table as the parts it is drawn in, each with the words above it (none when the
    table fits in one)."""
    parts = _column_parts(_least_widths(pdf, block))
    if len(parts) == 1:
        return [(block, "")]
    out = []
    for number, columns in enumerate(parts, 1):
        pick = (0, *columns)
        part = Table(
            tuple(block.columns[i] for i in pick),
            tuple(tuple(row[i] if i < len(row) else Cell() for i in pick) for row in block.rows),
            block.style,
            block.note if number == len(parts) else "",
        )
        out.append((part, f"Part {number} of {len(parts)} of a table too wide for the page: columns {columns[0]} to {columns[-1]} of {len(block.columns) - 1}."))
    return out


def _column_parts(least: list[float]) -> list[tuple[int, ...]]:
    """The columns after the first in groups that fit the page beside the first at their
    least widths; one group (all the columns) when the whole table fits."""
    if sum(least) <= CONTENT or len(least) < 2:
        return [tuple(range(1, len(least)))]
    parts: list[tuple[int, ...]] = []
    current: list[int] = []
    room = CONTENT - least[0]
    for i in range(1, len(least)):
        if current and sum(least[j] for j in current) + least[i] > room:
            parts.append(tuple(current))
            current = []
        current.append(i)
    parts.append(tuple(current))
    return parts


MAX_CELL_LINES = 40  # a row must fit on one page (fpdf2 cannot split one): longer cells are cut
CUT = "… (cut: too long for one page)"


def _capped(pdf: _Pdf, text: str, width: float, layout: _TableLayout, cell: Cell) -> str:
    """The cell's text, cut to MAX_CELL_LINES lines (saying so) when it would make its row
    taller than a page; short texts are not measured."""
    if len(text) < MAX_CELL_LINES * 4:
        return text
    pdf.set_font(FONT, "B" if cell.bold or cell.status is not None else "", layout.size)
    lines = pdf.lines_of(width - 2 * layout.pad_x, layout.line_h, text)
    if len(lines) <= MAX_CELL_LINES:
        return text
    return "\n".join(line.strip() for line in lines[: MAX_CELL_LINES - 1]) + "\n" + CUT


def _table_part(pdf: _Pdf, block: Table) -> None:
    layout = _table_layout(pdf, block)
    size = layout.size
    pdf.set_font(FONT, "", size)
    pdf.set_text_color(*_rgb(DARK))
    pdf.set_draw_color(*_rgb(BORDER))
    aligns = tuple({"left": "LEFT", "right": "RIGHT", "center": "CENTER"}[c.align] for c in block.columns)
    with pdf.table(
        col_widths=layout.widths,
        width=CONTENT,
        text_align=aligns,
        line_height=layout.line_h,
        padding=(layout.pad_y, layout.pad_x),
        borders_layout="HORIZONTAL_LINES",
        headings_style=FontFace(emphasis="BOLD", color=_rgb(DARK), fill_color=_rgb("#E8EDEE"), size_pt=size),
        v_align="MIDDLE",
        repeat_headings=1,
    ) as table:
        _measure_cells_once(pdf, table)
        heading = table.row()
        for column in block.columns:
            heading.cell(column.title)
        for cells in block.rows:
            row = table.row()
            for column, cell, width in zip(block.columns, cells, layout.widths):
                align = {"left": "LEFT", "right": "RIGHT", "center": "CENTER"}[cell.align if cell.align != "left" else column.align]
                row.cell(_capped(pdf, _text(cell), width, layout, cell), align=align, style=_style(cell))
    if block.note:
        pdf.ln(1)
        pdf.set_font(FONT, "I", 7.5)
        pdf.set_text_color(*_rgb(GREY))
        pdf.multi_cell(CONTENT, 3.8, block.note, new_x="LMARGIN", new_y="NEXT", align="L")
    pdf.ln(2.5)


def _measure_cells_once(pdf: _Pdf, table: FpdfTable) -> None:
    """fpdf2 lays a table out twice: a first pass measures every cell's height (drawing
    nothing), the second draws. The first pass's answer for a cell depends only on the cell and
    the table's settings, so it is kept per process (the rows of a shared agreement's objectives
    recur in every practice's report); like `_Pdf._dry_run`, the characters the measuring
    numbers in the fonts' subsets are numbered again, in the same order, when it is reused."""
    measure = table._render_table_cell

    def render_cell(
        i: int, j: int, cell: TableCell, row_height: float, cell_height_info: RowLayoutInfo | None = None,
        cell_x_positions: Sequence[float] | None = None, **kwargs: object,
    ) -> tuple[bool, float, float]:
        if cell_height_info is not None or cell_x_positions is not None or kwargs or cell.img is not None:
            drawn: tuple[bool, float, float] = measure(
                i, j, cell, row_height=row_height, cell_height_info=cell_height_info,
                cell_x_positions=cell_x_positions, **kwargs,
            )
            return drawn
        key = (
            "cell", repr(cell), i < table._num_heading_rows, table._get_col_width(i, j, cell.colspan), row_height,
            table._line_height, repr(table._initial_style), repr(table._headings_style), repr(table.rows[i].style),
            repr(table._padding), repr(table._text_align), repr(table._v_align), repr(table._wrapmode),
            table._markdown, table._cell_fill_mode.should_fill_cell(i, j), repr(table._cell_fill_color),
            pdf.font_family, pdf.font_style, pdf.font_size_pt,
        )
        fonts = [f for f in pdf.fonts.values() if isinstance(f, TTFFont)]
        found = _measured_cells.get(key)
        if found is None:
            kept = [f.subset for f in fonts]
            for f in fonts:
                f.subset = SubsetMap(f)
            reserved = [len(f.subset) for f in fonts]
            try:
                made: tuple[bool, float, float] = measure(i, j, cell, row_height=row_height)
            finally:
                scratch = [f.subset for f in fonts]
                for f, subset in zip(fonts, kept):
                    f.subset = subset
            picked = tuple(
                (f.fontkey, tuple(_code(g.unicode) for g, _ in list(s.items())[n:] if g is not None))
                for f, s, n in zip(fonts, scratch, reserved)
            )
            found = (made, picked)
            if len(_measured_cells) >= _MEASURED_MAX:
                _measured_cells.clear()
            _measured_cells[key] = found
        made, picked = found
        by_key = {f.fontkey: f for f in fonts}
        for fontkey, codes in picked:
            subset = by_key[fontkey].subset
            for code in codes:
                subset.pick(code)
        return made

    table._render_table_cell = render_cell  # type: ignore[method-assign]


_measured_cells: dict[tuple[object, ...], tuple[tuple[bool, float, float], tuple[tuple[str, tuple[int, ...]], ...]]] = {}


# ------------------------------------------------------------------ the Boston Box

BOX_LABEL_W = CONTENT * 0.18  # the column of row labels
BOX_CELL_W = (CONTENT - BOX_LABEL_W) / 2  # each quadrant
CHIP_LINE_H = 3.6
CHIP_GAP = 1.2


@dataclass(frozen=True)
class _ChipLines:
    """A chip of the Boston Box and the lines its text wraps into."""

    chip: Chip
    lines: tuple[str, ...]

    @property
    def height(self) -> float:
        return len(self.lines) * CHIP_LINE_H + 1.6


@dataclass(frozen=True)
class _BoxRow:
    label: str
    quadrants: tuple[tuple[Cell, tuple[_ChipLines, ...]], ...]  # each cell with its chips laid out
    height: float


def _box_layout(pdf: _Pdf, block: Table) -> list[_BoxRow]:
    layout = []
    for row in block.rows:
        quadrants = tuple(
            (cell, tuple(_ChipLines(chip, _chip_lines(pdf, chip.text, BOX_CELL_W - 5)) for chip in cell.chips))
            for cell in row[1:]
        )
        height = max(sum(c.height + CHIP_GAP for c in chips) for _, chips in quadrants) if quadrants else 0
        layout.append(_BoxRow(row[0].text, quadrants, max(height, 10) + 2.5))
    return layout


def _chip_lines(pdf: _Pdf, text: str, width: float) -> tuple[str, ...]:
    pdf.set_font(FONT, "B", 7.5)
    return tuple(pdf.lines_of(width, CHIP_LINE_H, text))


def _box_height(pdf: _Pdf, block: Table) -> float:
    return 7 + sum(row.height for row in _box_layout(pdf, block)) + 4


def _box(pdf: _Pdf, block: Table) -> None:
    """The Boston Box: a 2 × 2 grid of labelled chips, one per service; a long name wraps,
    so the status word is never cut off."""
    layout = _box_layout(pdf, block)
    if pdf.get_y() + 7 + sum(row.height for row in layout) > pdf.h - 20:
        pdf.add_page()
    top = pdf.get_y()
    pdf.set_font(FONT, "B", 8.5)
    pdf.set_text_color(*_rgb(DARK))
    pdf.set_fill_color(232, 237, 238)
    pdf.rect(MARGIN, top, CONTENT, 7, style="F")
    for i, column in enumerate(block.columns[1:]):
        pdf.set_xy(MARGIN + BOX_LABEL_W + i * BOX_CELL_W, top)
        pdf.cell(BOX_CELL_W, 7, column.title, align="C")
    y = top + 7
    pdf.set_draw_color(*_rgb(BORDER))
    for row in layout:
        pdf.set_fill_color(*_rgb(PALE))
        pdf.rect(MARGIN, y, BOX_LABEL_W, row.height, style="FD")
        pdf.set_xy(MARGIN + 1.5, y + 1.5)
        pdf.set_font(FONT, "B", 8.5)
        pdf.set_text_color(*_rgb(DARK))
        pdf.multi_cell(BOX_LABEL_W - 3, 4.2, row.label, align="L")
        for i, (cell, chips) in enumerate(row.quadrants):
            _quadrant(pdf, MARGIN + BOX_LABEL_W + i * BOX_CELL_W, y, row.height, cell, chips)
        y += row.height
    pdf.set_y(y + 4)


def _quadrant(pdf: _Pdf, x: float, y: float, height: float, cell: Cell, chips: tuple[_ChipLines, ...]) -> None:
    pdf.rect(x, y, BOX_CELL_W, height, style="D")
    if not chips:
        pdf.set_xy(x + 2, y + 2)
        pdf.set_font(FONT, "", 8)
        pdf.set_text_color(*_rgb(GREY))
        pdf.cell(BOX_CELL_W - 4, 5, cell.text or "(none)")
    chip_y = y + 1.5
    for laid in chips:
        background, foreground = STATUS_COLOURS[laid.chip.status] if laid.chip.status else (PALE, DARK)
        pdf.set_fill_color(*_rgb(background))
        pdf.rect(x + 1.5, chip_y, BOX_CELL_W - 3, laid.height, style="F")
        pdf.set_text_color(*_rgb(foreground))
        pdf.set_font(FONT, "B", 7.5)
        pdf.set_xy(x + 2.5, chip_y + 0.8)
        pdf.multi_cell(BOX_CELL_W - 5, CHIP_LINE_H, laid.chip.text, align="L")
        chip_y += laid.height + CHIP_GAP
