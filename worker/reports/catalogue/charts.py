"""The catalogue's small Boston Box drawings: a 2 × 2 box with the service's quadrants filled,
and beside it the quadrants in words. matplotlib's Agg backend, one Figure per drawing (as
`reports.charts`). A filled quadrant is told by a tick as well as by its colour."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from worker.reports.catalogue.view import QuadrantBox
from worker.reports.words import BORDER, DARK, GREY, NHS_BLUE, QUADRANT_WORDS

DPI = 150
WIDTH_IN = 8.0
HEIGHT_IN = 1.6
CELL_IN = 0.62  # each quadrant of the little box
BOX_X, BOX_Y = 1.3, 0.1  # its lower left corner
ROWS = ("decisions", "smarter")  # top to bottom
COLUMNS = ("internal", "external")  # left to right
SHORT = {"decisions": "Decisions", "smarter": "Smarter", "internal": "Within", "external": "Outside"}


def render_boxes(boxes: tuple[QuadrantBox, ...]) -> dict[str, bytes]:
    """PNG bytes by image name."""
    return {box.name: render_box(box) for box in boxes}


def render_box(box: QuadrantBox) -> bytes:
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN))
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, WIDTH_IN)
    ax.set_ylim(0, HEIGHT_IN)
    ax.set_axis_off()
    font = {"family": "DejaVu Sans", "color": DARK}
    for row, axis in enumerate(ROWS):
        y = BOX_Y + (1 - row) * CELL_IN
        ax.text(BOX_X - 0.1, y + CELL_IN / 2, SHORT[axis], ha="right", va="center", fontsize=9.5, fontdict=font)
        for column, side in enumerate(COLUMNS):
            x = BOX_X + column * CELL_IN
            filled = f"{axis}/{side}" in box.value
            ax.add_patch(Rectangle((x, y), CELL_IN, CELL_IN, facecolor=NHS_BLUE if filled else "white",
                                   edgecolor=GREY if filled else BORDER, linewidth=1.2))
            if filled:
                ax.text(x + CELL_IN / 2, y + CELL_IN / 2, "✓", ha="center", va="center", fontsize=15,
                        fontweight="bold", color="white", family="DejaVu Sans")
    for column, side in enumerate(COLUMNS):
        ax.text(BOX_X + (column + 0.5) * CELL_IN, BOX_Y + 2 * CELL_IN + 0.07, SHORT[side], ha="center", va="bottom",
                fontsize=9.5, fontdict=font)
    left = BOX_X + 2 * CELL_IN + 0.45
    top = HEIGHT_IN - 0.25
    # The service is named: a page break may part the drawing from the section's heading. A
    # long name is set smaller, to stay within the drawing.
    heading = ax.text(left, top, f"Where the value of {box.title} lies", ha="left", va="center", fontsize=11,
                      fontweight="bold", fontdict=font)
    FigureCanvasAgg(figure)
    width_in = heading.get_window_extent().width / figure.dpi  # measured with the figure's own renderer
    room_in = WIDTH_IN - left - 0.3  # room to spare: text is laid out a little wider at the saving resolution
    if width_in > room_in:
        heading.set_fontsize(11 * room_in / width_in)
    lines = [QUADRANT_WORDS[q] for q in box.value] or ["Not placed in the Boston Box"]
    for index, words in enumerate(lines):
        y = top - 0.27 * (index + 1)
        if box.value:
            ax.add_patch(Rectangle((left, y - 0.06), 0.12, 0.12, facecolor=NHS_BLUE, edgecolor="none"))
        ax.text(left + (0.22 if box.value else 0), y, words, ha="left", va="center", fontsize=10.5, fontdict=font)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI, metadata={"Software": None}, pil_kwargs={"compress_level": 4})
    return out.getvalue()


