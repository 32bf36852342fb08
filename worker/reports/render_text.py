"""A report document as plain text: the email's text/plain part and `report.txt`.
Tables are aligned in columns and wrapped to fit; charts are described in words."""

from __future__ import annotations

import textwrap

from worker.reports.document import Bullets, Cell, Document, Figure, Paragraph, Table

WIDTH = 100


def render_text(document: Document, width: int = WIDTH) -> str:
    out: list[str] = []
    out.append(document.label)
    out.append(document.title)
    out.append(document.subtitle)
    out += textwrap.wrap(" · ".join(f"{k}: {v}" for k, v in document.meta), width)
    label = f" ({document.summary_label[0].lower()}{document.summary_label[1:]})" if document.summary_label else ""
    out.append(f"Summary{label}: " + ", ".join(chip.text for chip in document.summary))
    if document.banner:
        out += ["", *textwrap.wrap(f"*** {document.banner} ***", width)]
    for section in document.sections:
        out += ["", "", section.title.upper(), "=" * min(len(section.title), width)]
        for block in section.blocks:
            out.append("")
            if isinstance(block, Paragraph):
                if block.tone == "heading":
                    out += [block.text, "-" * len(block.text)]
                else:
                    out += textwrap.wrap(block.text, width)
            elif isinstance(block, Bullets):
                for item in block.items:
                    out += textwrap.wrap(item, width, initial_indent="- ", subsequent_indent="  ")
            elif isinstance(block, Figure):
                out += textwrap.wrap(f"[Chart] {block.alt}", width, subsequent_indent="  ")
            elif isinstance(block, Table):
                if block.style == "box":
                    out += _box(block, width)
                elif block.style == "strip":
                    out += _strip(block, width)
                else:
                    out += _table(block, width)
                if block.note:
                    out += textwrap.wrap(f"({block.note})", width)
    out += ["", "-" * width]
    for line in document.footer:
        out += textwrap.wrap(line, width)
    return "\n".join(out).rstrip() + "\n"


def _text(cell: Cell) -> str:
    if cell.chips:
        return "; ".join(chip.text for chip in cell.chips)
    if cell.sub:
        return f"{cell.text} ({cell.sub})" if cell.text else cell.sub
    return cell.text


def _table(table: Table, width: int) -> list[str]:
    header = [c.title.replace("\n", " ") for c in table.columns]
    rows = [[_text(c) for c in row] for row in table.rows]
    natural = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    gap = 2 if table.style != "strip" else 1
    widths = list(natural)
    budget = width - gap * (len(widths) - 1)
    # Shrink the widest columns until the table fits (never below 8 characters).
    while sum(widths) > budget and max(widths) > 8:
        widest = widths.index(max(widths))
        widths[widest] -= 1
    if table.style == "strip":
        header = [h if natural[i] <= widths[i] else h[: widths[i]] for i, h in enumerate(header)]
    lines = []
    for cells in [header, *rows]:
        wrapped = [textwrap.wrap(text, w) or [""] for text, w in zip(cells, widths)]
        for i in range(max(len(w) for w in wrapped)):
            parts = []
            for column, (chunk, w) in enumerate(zip(wrapped, widths)):
                text = chunk[i] if i < len(chunk) else ""
                align = table.columns[column].align
                parts.append(text.rjust(w) if align == "right" else text.center(w) if align == "center" else text.ljust(w))
            lines.append((" " * gap).join(parts).rstrip())
        if cells is header:
            lines.append("-" * min(width, sum(widths) + gap * (len(widths) - 1)))
    return lines


def _box(table: Table, width: int) -> list[str]:
    """The Boston Box as a list: one quadrant after another."""
    lines = []
    for row in table.rows:
        for column, cell in zip(table.columns[1:], row[1:]):
            lines.append(f"{row[0].text}, {column.title.lower()}:")
            items = [chip.text for chip in cell.chips] or [cell.text]
            for item in items:
                lines += textwrap.wrap(item, width, initial_indent="  - ", subsequent_indent="    ")
    return lines


def _strip(table: Table, width: int) -> list[str]:
    """The at-a-glance chart: `service: objective` then one letter per month."""
    months = [c.title.split("\n") for c in table.columns[2:]]
    step = max([3] + [len(c.text) + 1 for row in table.rows for c in row[2:]])  # `n/m` needs four
    cells = step * len(months)
    label_w = max(20, width - cells - 2)
    years = "".join((f"'{m[1]}" if i == 0 or m[0] == "Jan" else "").ljust(step) for i, m in enumerate(months))
    lines = [" " * (label_w + 2) + years.rstrip(), " " * (label_w + 2) + "".join(m[0][:1].ljust(step) for m in months).rstrip()]
    lines.append("-" * min(width, label_w + 2 + cells))
    for row in table.rows:
        label = textwrap.wrap(f"{row[0].text}: {row[1].text}", label_w) or [""]
        strip = "".join((c.text or "·").ljust(step) for c in row[2:]).rstrip()
        lines.append(f"{label[0]:<{label_w}}  {strip}")
        lines += label[1:]
    return lines
