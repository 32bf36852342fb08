"""The Prometheus text format (0.0.4), written fast.

prometheus-client's `generate_latest` formats every sample's labels afresh; at 5,000
objectives that is 55,000 samples and about half a second. Here the label text of each
distinct label set is built once and reused (the six objective families share their label
sets), which makes the same output several times faster. The bytes are the same as
`generate_latest` gives for the same families — a test holds it to that — so the format's
correctness still rests on prometheus-client and on `promtool check metrics`.

The objective families come as `RowGauge`s (issue 16: 30,000 results make some 280,000
lines): rows of (label set, value) whose label text the collector built once per
configuration, written here with no `Sample` per line and no sorting or escaping per line.
Their `samples` are still made on demand, so prometheus-client and the tests see ordinary
families.

Only what the collector produces is supported: gauges, counters and histograms, no
timestamps, no exemplars, no `_created` samples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from prometheus_client.core import Metric
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

# prometheus-client's own number format (+Inf, NaN, 1e+06), typed: the library leaves it untyped.
_number: Callable[[float], str] = floatToGoString

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_TYPES = {"gauge": "gauge", "counter": "counter", "histogram": "histogram"}


def _escape_label_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


class LabelSet(NamedTuple):
    """Label values (in the family's label-name order) and their text: `{k="v",…}`, names
    sorted, values escaped, as prometheus-client writes it."""

    values: tuple[str, ...]
    text: str


def label_text(names: Sequence[str], values: Sequence[str]) -> str:
    """The `{k="v",…}` text of one label set ("" for none), as `generate_latest` writes it."""
    pairs = ",".join(f'{k}="{_escape_label_value(v)}"' for k, v in sorted(zip(names, values)))
    return f"{{{pairs}}}" if pairs else ""


class RowGauge(Metric):
    """A gauge kept as parallel lists of label sets and float values, written line by line by
    `render` with no `Sample` per line (and no object the garbage collector must walk: at
    280,000 lines that alone was a second). `samples` builds them on demand for everyone else.

    `last_label` (sla_burn_rate's `window`) is one more label given per row as a plain string;
    it must sort after every other label name, so its pair goes last in the text."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str], last_label: str | None = None):
        self.label_sets: list[LabelSet] = []
        self.values: list[float] = []
        self.last: list[str] = []
        super().__init__(name, documentation, "gauge")
        if last_label is not None and (not labels or any(last_label <= other for other in labels)):
            raise ValueError(f"{last_label!r} must follow other labels of {name}, all sorting before it")
        self.labelnames = tuple(labels)
        self.last_label = last_label

    def add(self, labels: LabelSet, value: float, last: str | None = None) -> None:
        """One sample (`last`: the value of `last_label`, when the family has one)."""
        self.label_sets.append(labels)
        self.values.append(value)
        if self.last_label is not None:
            self.last.append(last or "")

    @property
    def samples(self) -> list[Sample]:
        names, found = self.labelnames, []
        for i, (labels, value) in enumerate(zip(self.label_sets, self.values)):
            pairs = dict(zip(names, labels.values))
            if self.last_label is not None:
                pairs[self.last_label] = self.last[i]
            found.append(Sample(self.name, pairs, value))
        return found

    @samples.setter
    def samples(self, given: list[Sample]) -> None:
        """Only the base class's empty list: samples are added with `add`."""
        if given:
            raise ValueError("add samples to a RowGauge with add()")

    def lines(self) -> list[str]:
        # prometheus-client's number format, inlined (a call per line is a tenth of the time at
        # 280,000 lines): between ±1e6 it is plain repr, as Go switches to an exponent only from
        # 1e+06 up; ±Inf and NaN fail the test and take the full path.
        name, number = self.name, _number
        if self.last_label is None:
            return [
                f"{name}{labels.text} {repr(value) if -1e6 < value < 1e6 else number(value)}\n"
                for labels, value in zip(self.label_sets, self.values)
            ]
        ending = {last: f',{self.last_label}="{_escape_label_value(last)}"}}' for last in set(self.last)}
        return [
            f"{name}{labels.text[:-1]}{ending[last]} {repr(value) if -1e6 < value < 1e6 else number(value)}\n"
            for labels, last, value in zip(self.label_sets, self.last, self.values)
        ]


def render(families: Iterable[Metric]) -> bytes:
    """The text exposition of `families`."""
    out: list[str] = []
    labels_text: dict[tuple[tuple[str, str], ...], str] = {}
    for metric in families:
        kind = _TYPES.get(metric.type)
        if kind is None:
            raise ValueError(f"{metric.name}: metric type {metric.type!r} is not supported here")
        name = metric.name + "_total" if kind == "counter" else metric.name
        out.append(f"# HELP {name} {_escape_help(metric.documentation)}\n# TYPE {name} {kind}\n")
        if isinstance(metric, RowGauge):
            out += metric.lines()
            continue
        for sample in metric.samples:
            if sample.timestamp is not None or sample.exemplar is not None or sample.name.endswith("_created"):
                raise ValueError(f"{sample.name}: timestamps, exemplars and _created samples are not supported here")
            key = tuple(sample.labels.items())
            text = labels_text.get(key)
            if text is None:
                text = labels_text[key] = label_text(list(sample.labels), list(sample.labels.values()))
            out.append(f"{sample.name}{text} {_number(sample.value)}\n")
    return "".join(out).encode("utf-8")
