"""A catalogue's files: catalogue.html (its drawings beside it in charts/), catalogue.pdf, and
where they are written — through the reports' own renderers and folder writer, so a catalogue
looks like the reports and is kept like them (files 0640, folders 0750, written whole)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from worker.reports.catalogue.charts import render_boxes
from worker.reports.catalogue.view import CatalogueDocument
from worker.reports.delivery import write_folder
from worker.reports.render_html import render_html
from worker.reports.render_pdf import render_pdf

CATALOGUE_DIR = "catalogue"  # under SLA_REPORTS_DIR: catalogue/<customer>/, catalogue/board/
BOARD = "board"


def render_catalogue(catalogue: CatalogueDocument, issued: date) -> dict[str, bytes]:
    """File name → bytes."""
    images = render_boxes(catalogue.boxes)
    files = {f"charts/{name}.png": data for name, data in images.items()}
    files["catalogue.html"] = render_html(catalogue.document, images, lambda name: f"charts/{name}.png").encode()
    files["catalogue.pdf"] = render_pdf(catalogue.document, images, issued)
    return files


def write_catalogue(root: Path, relative: str, files: dict[str, bytes]) -> Path:
    """Write the files to root/relative, replacing an earlier catalogue there whole."""
    return write_folder(root, relative, files, replace=True)
