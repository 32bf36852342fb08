"""Ingesting CSV files (SPEC 5): every good row stored with the pending changes that tell
scoring what to redo, bad rows refused with their line and reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine

from worker.domain.changes import Changes
from worker.domain.model import Catalogue, Incident, InputKind
from worker.inputs.common import Refusal
from worker.inputs.incidents import parse_incidents
from worker.inputs.maintenance import parse_maintenance
from worker.inputs.samples import parse_samples
from worker.storage import incidents as incident_store
from worker.storage import maintenance as maintenance_store
from worker.storage.coordination import record_changes
from worker.storage.samples import store_sample_arrays

# Bytes of a samples file parsed and stored at a time (about a million lines): bounds memory.
_SAMPLE_CHUNK_BYTES = 32 * 1024 * 1024


@dataclass
class IngestReport:
    kind: InputKind
    accepted: int = 0
    refusals: list[Refusal] = field(default_factory=list)
    changes: Changes = field(default_factory=Changes)
    streams: Counter[str] = field(default_factory=Counter)  # samples stored per "<service>/<signal>"

    @property
    def refused(self) -> int:
        return len(self.refusals)


def ingest(engine: Engine, catalogue: Catalogue, kind: str, data: bytes, now: datetime) -> IngestReport:
    """Store every good row of one CSV file in one transaction (bad rows become refusals),
    together with the pending changes that tell scoring what to redo."""
    if kind not in tuple(InputKind):
        raise ValueError(f"unknown input kind {kind!r}; expected one of {', '.join(InputKind)}")
    with engine.begin() as conn:
        report = store_input(conn, catalogue, kind, data, now)
        record_changes(conn, report.changes.rows(), now)
    return report


def ingest_path(engine: Engine, catalogue: Catalogue, kind: str, path: Path, now: datetime) -> IngestReport:
    return ingest(engine, catalogue, kind, path.read_bytes(), now)


def store_input(conn: Connection, catalogue: Catalogue, kind: str, data: bytes, now: datetime) -> IngestReport:
    """Parse and store one file's good rows inside the caller's transaction."""
    which = InputKind(kind)
    if which is InputKind.SAMPLES:
        return _store_samples(conn, catalogue, data)
    if which is InputKind.INCIDENTS:
        incidents = parse_incidents(data, catalogue.services, catalogue.customers)
        report = IngestReport(which, incidents.accepted, incidents.refusals)
        store_incident_versions(conn, incidents.incidents, report.changes, now)
        return report
    maintenance = parse_maintenance(data, catalogue.services)
    maintenance_store.store_maintenance(conn, maintenance.windows)
    report = IngestReport(which, maintenance.accepted, maintenance.refusals)
    for window in maintenance.windows:
        report.changes.add(which, window.service, window.start_at.timestamp(), window.end_at.timestamp())
    return report


def store_incident_versions(conn: Connection, incidents: list[Incident], changes: Changes, now: datetime) -> int:
    """Store incidents (a later version replaces the stored one whole) and add to `changes`
    the spans both versions can affect: a replaced incident may have moved to another
    service, priority or month, and the results it used to count in must be scored again."""
    replaced = incident_store.get_incidents(conn, [i.id for i in incidents])
    stored = incident_store.store_incidents(conn, incidents, updated_at=now)
    for incident in [*replaced.values(), *incidents]:
        changes.add(InputKind.INCIDENTS, incident.service, *incident_span(incident, now))
    return stored


def incident_span(incident: Incident, now: datetime) -> tuple[float, float]:
    """The instants a stored incident can affect: from opening to the later of its two clock
    stops, or to `now` while either clock still runs (a responded incident's resolution
    clock goes on, and can breach in a later period)."""
    stops = [s for s in (incident.responded_at, incident.resolved_at) if s is not None]
    last = now if len(stops) < 2 else max(stops)
    return incident.opened_at.timestamp(), last.timestamp()


def _sample_chunks(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(line offset, header + lines) pieces of a samples file, split at line ends."""
    header_end = data.find(b"\n")
    if header_end < 0 or len(data) <= _SAMPLE_CHUNK_BYTES:
        yield 0, data
        return
    header = data[: header_end + 1]
    position, offset = header_end + 1, 0
    while position < len(data):
        end = data.find(b"\n", position + _SAMPLE_CHUNK_BYTES) + 1 or len(data)
        yield offset, header + data[position:end]
        offset += data.count(b"\n", position, end)
        position = end


def _store_samples(conn: Connection, catalogue: Catalogue, data: bytes) -> IngestReport:
    report = IngestReport(InputKind.SAMPLES)
    for offset, chunk in _sample_chunks(data):
        parsed = parse_samples(chunk, catalogue.services)
        report.accepted += parsed.accepted
        report.refusals.extend(Refusal(r.line + offset if r.line > 1 else r.line, r.reason) for r in parsed.refusals)
        store_sample_arrays(conn, parsed.service, parsed.signal, parsed.at_ms, parsed.value, report.changes, report.streams)
    return report
