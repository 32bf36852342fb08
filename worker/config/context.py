"""What every entry reader may look up: the ids written anywhere in the directory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from worker.config.fields import text
from worker.config.places import At, Refused, suggest
from worker.domain.model import Source

ENTRY_NAME = {
    "calendars": "calendar",
    "services": "service",
    "customers": "customer",
    "agreements": "agreement",
    "suppliers": "supplier",
    "contracts": "contract",
    "maintenance": "maintenance window",
    "sources": "source",
    "channels": "channel",
}


@dataclass
class Context:
    """`known` holds every id written anywhere (even in an entry that is itself invalid) so
    that a bad entry is reported once, not again by everything that refers to it; `complete`
    is False when a file could not be read at all, in which case unknown references are not
    reported (the id may be in that file). `sources` are the valid sources, read first."""

    known: dict[str, dict[str, At]]
    complete: bool = True
    sources: dict[str, Source[Any]] = field(default_factory=dict)
    templates: dict[str, At] = field(default_factory=dict)  # per-customer services, where written

    def ref(self, section: str) -> Callable[[At], str]:
        """A converter of a reference to an entry of `section`, by id."""

        def convert(at: At) -> str:
            written = text(at).strip()
            if self.complete and written not in self.known[section]:
                what = ENTRY_NAME[section]
                raise Refused(f"no {what} with id {written!r} is configured{suggest(written, self.known[section])}")
            return written

        return convert
