"""A report document as HTML (Jinja2, autoescape on): the email body, with charts as cid:
images, and the copy kept on disk, with charts as files beside it."""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from worker.reports.document import Document
from worker.reports.words import BORDER, DARK, GREY, NHS_BLUE, PALE, STATUS_COLOURS

WIDTH = 720  # the email's width in CSS pixels (Outlook's reading pane shows about this much)
CONTENT = WIDTH - 48


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("worker.reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
    )


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's header."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    return struct.unpack(">II", data[16:24])


def render_html(document: Document, images: Mapping[str, bytes], image_src: Callable[[str], str]) -> str:
    """`image_src(chart name)` gives each image's address: `cid:…` in email, a relative
    file name on disk. Images are shown at CONTENT pixels wide (drawn at about twice that)."""
    sizes = {}
    for name, data in images.items():
        w, h = png_size(data)
        sizes[name] = (CONTENT, round(h * CONTENT / w))
    return environment().get_template("report.html.j2").render(
        doc=document,
        image_src=image_src,
        sizes=sizes,
        colours=STATUS_COLOURS,
        width=WIDTH,
        content=CONTENT,
        blue=NHS_BLUE,
        dark=DARK,
        grey=GREY,
        pale=PALE,
        border=BORDER,
    )
