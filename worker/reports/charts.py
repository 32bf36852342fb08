"""Charts for reports, drawn with matplotlib's Agg backend (no display, no pyplot global
state: one Figure per chart, safe in any worker process).

Accessible by design: a status is never told by colour alone — every point has a shape per
status (circle GREEN, diamond AMBER, cross RED), the latest value is written beside its
point with its status word, targets are labelled lines, and the status bars carry hatching
and counts. Fonts are large enough for a printed A4 board pack (the PNG is drawn at twice
the size it is shown in email, 8 × 2.7 inches at 150 dpi per row of panels).
"""

from __future__ import annotations

import io
import math
from collections import OrderedDict

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, PercentFormatter
from matplotlib.typing import RcKeyType

from worker.domain.model import Status
from worker.reports.document import ChartSpec, StatusBars, TrendChart
from worker.reports.words import DARK, NHS_BLUE, STATUS_COLOURS, STATUS_LABEL, percent, target_text

DPI = 150
WIDTH_IN = 8.0
ROW_IN = 3.0
MARKERS = {Status.GREEN: "o", Status.AMBER: "D", Status.RED: "X"}
HATCH = {Status.GREEN: "", Status.AMBER: "..", Status.RED: "//", Status.NO_DATA: "xx"}
_RC: dict[RcKeyType, object] = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 9.5,
    "ytick.labelsize": 10,
    "axes.edgecolor": "#AEB7BD",
    "axes.linewidth": 0.8,
    "font.family": "DejaVu Sans",
}


def render_charts(charts: tuple[ChartSpec, ...]) -> dict[str, bytes]:
    """PNG bytes by chart name."""
    return {chart.name: render_chart(chart) for chart in charts}


_drawn: OrderedDict[str, bytes] = OrderedDict()  # the customers of a shared agreement share charts
_DRAWN_MAX = 128


def render_chart(chart: ChartSpec) -> bytes:
    key = repr(chart)
    if key in _drawn:
        _drawn.move_to_end(key)
        return _drawn[key]
    png = _draw(chart)
    _drawn[key] = png
    if len(_drawn) > _DRAWN_MAX:
        _drawn.popitem(last=False)
    return png


def _draw(chart: ChartSpec) -> bytes:
    import matplotlib

    with matplotlib.rc_context(_RC):
        if isinstance(chart, TrendChart):
            figure = _trend(chart)
        elif isinstance(chart, StatusBars):
            figure = _status_bars(chart)
        else:  # pragma: no cover - a new ChartSpec without a drawing
            raise TypeError(f"no drawing for {type(chart).__name__}")
        out = io.BytesIO()
        FigureCanvasAgg(figure)
        figure.savefig(out, format="png", dpi=DPI, metadata={"Software": None}, pil_kwargs={"compress_level": 4})
    return out.getvalue()


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def _trend(chart: TrendChart) -> Figure:
    panels = chart.panels
    columns = 1 if len(panels) == 1 else 2
    rows = math.ceil(len(panels) / columns)
    # Fixed margins in inches (a layout engine would cost more than the drawing itself).
    height = ROW_IN * rows + 0.45
    figure = Figure(figsize=(WIDTH_IN, height))
    top_in, bottom_in, row_gap_in = 0.55, 0.95, 1.05
    figure.subplots_adjust(
        left=0.75 / WIDTH_IN, right=1 - 0.12 / WIDTH_IN, top=1 - top_in / height, bottom=bottom_in / height,
        wspace=0.28, hspace=row_gap_in / ((height - top_in - bottom_in - row_gap_in * (rows - 1)) / rows),
    )
    axes = figure.subplots(rows, columns, squeeze=False)
    x = list(range(len(chart.months)))
    for index, panel in enumerate(panels):
        ax = axes[index // columns][index % columns]
        values = [_nan(v) for v in panel.values]
        targets = [_nan(t) for t in panel.targets]
        warnings = [_nan(w) for w in panel.warnings]
        known = [v for v in values + targets + warnings if not math.isnan(v)]
        low = min(known) if known else 0.0
        high = max(known) if known else 100.0
        if known and high >= 90:  # percentages near the top: show the ceiling
            high = 100.0
        pad = max((high - low) * 0.18, 0.05)
        ax.set_ylim(low - pad, high + pad * 0.6)
        # Target (and warning) per month as level segments: a target that changed with a new
        # agreement shows as a step.
        _levels(ax, targets, color=DARK, linestyle=(0, (5, 3)), linewidth=1.6)
        if any(not math.isnan(w) for w in warnings):
            _levels(ax, warnings, color="#8A5A00", linestyle=(0, (1, 2)), linewidth=1.4)
        ax.plot(x, values, color=NHS_BLUE, linewidth=2.2, zorder=3)
        for status, marker in MARKERS.items():
            xs = [i for i, s in enumerate(panel.statuses) if s is status and not math.isnan(values[i])]
            if xs:
                ax.scatter(
                    xs, [values[i] for i in xs], marker=marker, s=64 if status is not Status.RED else 90,
                    color=STATUS_COLOURS[status][0], edgecolors=DARK, linewidths=0.8, zorder=4,
                )
        # The latest value and status go in the title: a label inside the plot would cover the line.
        last = next((i for i in range(len(values) - 1, -1, -1) if not math.isnan(values[i])), None)
        target_now = next((t for t in reversed(targets) if not math.isnan(t)), None)
        title = panel.measure + (f" (target {target_text(target_now)})" if target_now is not None else "")
        latest = panel.statuses[last] if last is not None else None
        if last is not None and latest is not None:
            title += f"\n{chart.months[last]}: {percent(panel.values[last])} {STATUS_LABEL[latest]}"
        ax.set_title(title, loc="left", fontsize=11.5, fontweight="bold", color=DARK)
        ax.set_xticks(x, _month_ticks(chart.months, compact=columns > 1))
        ax.set_xlim(-0.5, len(x) - 0.5)
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=100, decimals=_decimals(high - low + pad)))
        ax.grid(axis="y", color="#E8EDEE", linewidth=0.8)
        ax.spines[["top", "right"]].set_visible(False)
    for index in range(len(panels), rows * columns):
        axes[index // columns][index % columns].set_visible(False)
    handles = [
        Line2D([], [], color=NHS_BLUE, linewidth=2.2, label="value"),
        Line2D([], [], color=DARK, linestyle=(0, (5, 3)), linewidth=1.6, label="target"),
    ]
    if any(any(w is not None for w in p.warnings) for p in panels):
        handles.append(Line2D([], [], color="#8A5A00", linestyle=(0, (1, 2)), linewidth=1.4, label="warning level"))
    handles += [
        Line2D([], [], marker=m, linestyle="", markersize=8, markerfacecolor=STATUS_COLOURS[s][0], markeredgecolor=DARK, label=STATUS_LABEL[s])
        for s, m in MARKERS.items()
    ]
    figure.legend(handles=handles, loc="lower center", ncols=len(handles), frameon=False, fontsize=10, bbox_to_anchor=(0.5, 0.0))
    return figure


def _levels(ax: Axes, levels: list[float], *, color: str, linestyle: tuple[int, tuple[int, int]], linewidth: float) -> None:
    """Horizontal segments, one per month, joined where consecutive months share a level."""
    runs: list[tuple[int, int, float]] = []
    for i, level in enumerate(levels):
        if math.isnan(level):
            continue
        if runs and runs[-1][1] == i - 1 and runs[-1][2] == level:
            runs[-1] = (runs[-1][0], i, level)
        else:
            runs.append((i, i, level))
    for first, last, level in runs:
        ax.plot([first - 0.5, last + 0.5], [level, level], zorder=2, color=color, linestyle=linestyle, linewidth=linewidth)


def _month_ticks(months: tuple[str, ...], compact: bool) -> list[str]:
    """`Nov\n25` per month; compact (narrow panels): the initial, with the year under the
    first month and under January."""
    if not compact:
        return [m.replace(" ", "\n") for m in months]
    ticks = []
    for i, month in enumerate(months):
        name, year = month.split(" ")
        ticks.append(f"{name[0]}\n'{year}" if i == 0 or name == "Jan" else name[0])
    return ticks


def _decimals(spread: float) -> int:
    if spread >= 10:
        return 0
    if spread >= 1:
        return 1
    return 2


def _status_bars(chart: StatusBars) -> Figure:
    figure = Figure(figsize=(WIDTH_IN, 3.4))
    figure.subplots_adjust(left=0.8 / WIDTH_IN, right=1 - 0.15 / WIDTH_IN, top=1 - 0.35 / 3.4, bottom=0.95 / 3.4)
    ax = figure.subplots()
    x = list(range(len(chart.months)))
    bottom = [0.0] * len(x)
    order = (Status.GREEN, Status.AMBER, Status.RED, Status.NO_DATA)
    for status in order:
        heights = [float(c.get(status, 0)) for c in chart.counts]
        bars = ax.bar(
            x, heights, bottom=bottom, color=STATUS_COLOURS[status][0], edgecolor="white", linewidth=0.8,
            hatch=HATCH[status], label=STATUS_LABEL[status], width=0.72,
        )
        for bar, height, base in zip(bars, heights, bottom):
            if height >= 1 and (status is not Status.GREEN or height >= 3):
                ax.text(
                    bar.get_x() + bar.get_width() / 2, base + height / 2, f"{int(height)}", ha="center", va="center",
                    fontsize=9, fontweight="bold", color=STATUS_COLOURS[status][1],
                    bbox={"boxstyle": "round,pad=0.12", "facecolor": STATUS_COLOURS[status][0], "edgecolor": "none"},
                )
        bottom = [b + h for b, h in zip(bottom, heights)]
    ax.set_xticks(x, [m.replace(" ", "\n") for m in chart.months])
    ax.set_ylabel("results")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#E8EDEE", linewidth=0.8)
    ax.set_axisbelow(True)
    if chart.title:
        ax.set_title(chart.title, loc="left", fontweight="bold", color=DARK)
    figure.legend(
        handles=[Patch(facecolor=STATUS_COLOURS[s][0], hatch=HATCH[s], edgecolor="white", label=STATUS_LABEL[s]) for s in order],
        loc="lower center", ncols=4, frameon=False, bbox_to_anchor=(0.5, 0.0),
    )
    return figure
