"""What new input touched, so scoring redoes only what depends on it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Changes:
    """What new input touched — per kind and service, the span of instants — so scoring
    redoes only the periods, objectives and days that depend on it."""

    spans: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)

    def add(self, kind: str, service: str, first_s: float, last_s: float) -> None:
        if (kind, service) in self.spans:
            lo, hi = self.spans[(kind, service)]
            first_s, last_s = min(lo, first_s), max(hi, last_s)
        self.spans[(kind, service)] = (first_s, last_s)

    def span(self, kind: str, service: str) -> tuple[float, float] | None:
        return self.spans.get((kind, service))

    def rows(self) -> list[tuple[str, str, float, float]]:
        """(kind, service, first_s, last_s) rows, as `coordination.record_changes` stores them."""
        return [(kind, service, lo, hi) for (kind, service), (lo, hi) in self.spans.items()]

    def __bool__(self) -> bool:
        return bool(self.spans)
