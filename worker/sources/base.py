"""What every collecting source (prometheus, http_probe, servicenow) has in common.

A collector reads an outside system and hands back what it found, one `Fetched` per stream; it
never touches the database. `worker.collect` gives it the stored positions, stores what it
returns (samples through `storage.samples.store_sample_arrays`, incidents through the
incident store), records the pending changes for scoring and moves the watermarks — in one transaction
per batch of streams, with the HTTP work done before the transaction starts.

Streams are named `<service>/<signal>` for samples ("epr/up") and `incidents` for incidents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from worker.domain.errors import InvalidValue
from worker.domain.model import Catalogue, Incident, Signal, Source, SourceKind
from worker.domain.time import parse_instant

if TYPE_CHECKING:
    from worker.config.places import Fields

Check = Callable[["Fields", Mapping[str, object]], None]  # refuses fields that do not go together

_EMPTY_MS = np.empty(0, dtype=np.int64)
_EMPTY_VALUES = np.empty(0, dtype=np.float64)
REASONS_KEPT = 20  # refusal reasons kept per stream for messages (all are counted)


@dataclass(eq=False)
class Fetched:
    """What one run of a source got for one stream.

    - Samples: `service`, `signal`, `at_ms` (int64 epoch ms) and `value` (float64), already
      checked (the refused ones are counted in `refused`, with some `reasons`).
    - Incidents: `incidents`, checked the same way.
    - `position`: where the next run starts (None: keep the stored one).
    - `error`: the stream failed this run; nothing of it is stored and its position stays.
    - `ignored`: records that were read but are not for any configured service (not an error).
    - `detail`: a note for the operator (a probe's reason for up=0), not an error.
    """

    stream: str
    service: str | None = None
    signal: str | None = None
    at_ms: np.ndarray = field(default_factory=lambda: _EMPTY_MS)
    value: np.ndarray = field(default_factory=lambda: _EMPTY_VALUES)
    incidents: list[Incident] = field(default_factory=list)
    position: str | None = None
    refused: int = 0
    reasons: list[str] = field(default_factory=list)
    ignored: int = 0
    error: str | None = None
    detail: str | None = None

    @classmethod
    def failed(cls, stream: str, error: str) -> Fetched:
        return cls(stream=stream, error=error)

    @property
    def size(self) -> int:
        """Rows to store (for batching)."""
        return len(self.at_ms) + len(self.incidents)

    def refuse(self, reason: str, count: int = 1) -> None:
        self.refused += count
        if len(self.reasons) < REASONS_KEPT:
            self.reasons.append(reason)


class Collector(Protocol):
    """One kind of source. `fetch` reads the outside system for every stream that is due and
    yields what it got; positions are the stored ones by stream (absent: never collected);
    `since` (from `sla-worker collect --since`) overrides them where going back makes sense."""

    def fetch(self, positions: Mapping[str, str | None], now: datetime, since: datetime | None) -> Iterator[Fetched]: ...


class CollectorFactory(Protocol):
    def __call__(self, source: Source[Any], catalogue: Catalogue) -> Collector: ...


class Misfit(Protocol):
    """Why a service's signal cannot come from this source (key to refuse and message), or None."""

    def __call__(self, source_id: str, signal: Signal, *, query: bool, probe: bool) -> tuple[str, str] | None: ...


@dataclass(frozen=True)
class SourcePlugin:
    """What one kind of source declares, in its own module, for the registry
    (`worker.sources.registry`): its kind, its frozen `Options` (each field declared with
    `worker.config.fields.option`, so the config loader reads and checks it), cross-field
    checks of its entry, which signals it cannot deliver, and its collector. A kind without a
    collector is a folder of dropped files, worked by `worker.collect` itself."""

    kind: SourceKind
    options: type[Any]
    collector: CollectorFactory | None
    check: Check | None = None
    misfit: Misfit | None = None


def stream_name(service: str, signal: str) -> str:
    return f"{service}/{signal}"


def sample_streams(catalogue: Catalogue, source_id: str) -> list[tuple[str, str, str | None]]:
    """(service, signal, query) of every signal that names `source_id`, in catalogue order."""
    return [
        (service.id, signal, signal_source.query)
        for service in catalogue.services.values()
        if not service.per_customer  # a template's queries hold placeholders: its instances are measured
        for signal, signal_source in service.signals.items()
        if signal_source.source == source_id
    ]


# --- positions --------------------------------------------------------------------------------


def format_instant(epoch_s: float) -> str:
    """Epoch seconds → `2026-10-01T00:00:00Z` (milliseconds when there are any)."""
    at = datetime.fromtimestamp(epoch_s, tz=timezone.utc)
    text = at.strftime("%Y-%m-%dT%H:%M:%S")
    if at.microsecond:
        text += f".{at.microsecond // 1000:03d}"
    return text + "Z"


def instant_position(position: str | None) -> float | None:
    """A stored ISO position → epoch seconds; None when there is none or it is unreadable
    (another kind of cursor: start again from the look-back rather than fail for ever)."""
    if not position:
        return None
    try:
        return parse_instant(position).timestamp()
    except InvalidValue:
        return None


# --- checks of sample values (SPEC 5) ---------------------------------------------------------


def check_values(signal: str, value: np.ndarray) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Which values a signal accepts (SPEC 5): `up` 0 or 1; `latency_ms`, `good`, `total`
    finite and ≥ 0. Returns the mask of good values and (index, reason) for up to
    REASONS_KEPT bad ones. The same rules as the samples CSV, on a whole array at once."""
    finite = np.isfinite(value)
    if signal == Signal.UP.value:
        good = finite & ((value == 0.0) | (value == 1.0))
        rule = "up must be 0 or 1"
    else:
        good = finite & (value >= 0.0)
        rule = f"{signal} must be a finite number ≥ 0"
    bad = np.flatnonzero(~good)[:REASONS_KEPT]
    return good, [(int(i), f"{rule}, got {_show(float(value[i]))}") for i in bad]


def _show(value: float) -> str:
    return str(int(value)) if np.isfinite(value) and float(value).is_integer() else repr(value)
