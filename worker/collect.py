"""Use case: run the configured sources once — read the outside systems, store what they
returned, record what it changed for scoring and move each stream's watermark.

Per source run:

1. A lease `collect:<source id>` in the database, so two workers never collect the same
   source at once (which would count the same samples twice in the watermarks). A source
   held by another worker is skipped this time. File drops are held by a lock on the folder
   instead (`file_drop.folder_lock`, released by the kernel when its holder dies), and each
   file is claimed by its content hash.
2. The stored positions are read; the source's collector does all its HTTP work with no
   transaction open (SQLite's write lock is never held while waiting on the network).
3. What it fetched is stored in batches of streams (about BATCH_ROWS rows), each batch in one
   transaction: the samples (`storage.samples.store_sample_arrays`) or incidents, the pending
   changes that tell `score_pending` what to redo, and per stream either success (new
   position, counts of samples stored and rows refused) or failure (error, streak + 1). A
   stream that failed stores nothing and keeps its position, so the next run goes on from
   where the last good one stopped; the other streams are stored as usual.

A file-drop run takes waiting files oldest first until its time budget has passed (at least
one file per run; the worker's runs get FILE_BUDGET_S, the command line all the time it
needs) and reports how many it left (`SourceReport.left`): a burst of files is worked off
over several runs, so one run never holds a worker process, or the sources after it, for
minutes, and what is stored is scored after every run.

Watermarks (`worker.storage.watermarks`) are what the metrics and the `data-missing` alert
read: per (source, stream) the position, last success, failures in a row, and running totals
of samples (or incidents) stored and rows refused. Streams: `<service>/<signal>` for samples;
`incidents` for ServiceNow and for dropped incidents files; `maintenance` for dropped
maintenance files; `samples` carries the refused rows of dropped samples files (a refused
row need not have a readable service or signal); `files` counts dropped files refused whole.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from worker.domain.changes import Changes
from worker.domain.model import Catalogue, Source, SourceKind
from worker.sources import file_drop
from worker.sources.base import Fetched
from worker.sources.registry import SOURCES
from worker.storage.coordination import acquire_lease, record_changes, release_lease
from worker.storage.engine import read_only
from worker.storage.samples import store_sample_arrays
from worker.storage.watermarks import Progress, list_watermarks, record_failure, record_success
from worker.usecases.ingest import store_incident_versions

log = logging.getLogger(__name__)

BATCH_ROWS = 500_000
LEASE_TTL_S = 600.0
# A worker's file-drop run stops taking new files after this long: well inside beat's minute
# and the 50 s expiry of the scheduled jobs queued behind it, so a burst never starves them.
FILE_BUDGET_S = 10.0

FileCallback = Callable[[str, file_drop.DropOutcome], None]


@dataclass
class StreamReport:
    stream: str
    stored: int = 0
    refused: int = 0
    ignored: int = 0
    error: str | None = None
    detail: str | None = None
    reasons: list[str] = field(default_factory=list)


@dataclass
class SourceReport:
    """What one source run did. `exception` is set when the run stopped on an unexpected
    error (a bug or the database): the other sources still ran."""

    source: str
    kind: SourceKind
    streams: list[StreamReport] = field(default_factory=list)
    files: list[file_drop.DropOutcome] = field(default_factory=list)
    skipped: str | None = None
    left: int = 0  # file drops: files still waiting when the run's time budget ran out
    changed: bool = False
    exception: BaseException | None = None

    @property
    def stored(self) -> int:
        return sum(s.stored for s in self.streams)

    @property
    def refused(self) -> int:
        return sum(s.refused for s in self.streams)

    @property
    def failed(self) -> list[StreamReport]:
        return [s for s in self.streams if s.error is not None]


def sources_to_run(catalogue: Catalogue, source_id: str | None = None) -> list[Source[Any]]:
    """The source with `source_id`, or every configured source in the registry's order of
    kinds, then by id. Raises KeyError for an unknown id."""
    if source_id is not None:
        return [catalogue.sources[source_id]]
    order = list(SOURCES)
    return sorted(catalogue.sources.values(), key=lambda s: (order.index(s.kind), s.id))


def collect(
    engine: Engine,
    catalogue: Catalogue,
    now: datetime,
    *,
    source_id: str | None = None,
    since: datetime | None = None,
    on_file: FileCallback | None = None,
    file_budget_s: float = math.inf,
) -> list[SourceReport]:
    """Run every configured source (or only `source_id`) once. `since` starts Prometheus and
    ServiceNow from that instant instead of their watermarks (a deliberate back-fill); it
    does not apply to probes or file drops. `on_file(source_id, outcome)` is called as each
    dropped file is done (progress for logs); a file-drop run takes new files for
    `file_budget_s` seconds (the worker: FILE_BUDGET_S). An unexpected error in one source is kept in its report
    (`exception`) and the others still run."""
    reports = []
    for source in sources_to_run(catalogue, source_id):
        try:
            reports.append(
                collect_source(engine, catalogue, source, now, since=since, on_file=on_file, file_budget_s=file_budget_s)
            )
        except Exception as error:  # noqa: BLE001 - one source's bug must not stop the others
            log.exception("%s: collection stopped by an unexpected error", source.id)
            reports.append(SourceReport(source.id, source.kind, exception=error))
    return reports


def collect_source(
    engine: Engine,
    catalogue: Catalogue,
    source: Source[Any],
    now: datetime,
    *,
    since: datetime | None = None,
    on_file: FileCallback | None = None,
    file_budget_s: float = math.inf,
) -> SourceReport:
    make_collector = SOURCES[source.kind].collector
    if make_collector is None:
        return _collect_file_drop(engine, catalogue, source, now, on_file, file_budget_s)
    report = SourceReport(source.id, source.kind)
    lease, holder = f"collect:{source.id}", f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    if not _take_lease(engine, lease, holder):
        report.skipped = "another worker is collecting this source"
        return report
    try:
        with read_only(engine) as conn:
            positions = {mark.stream: mark.position for mark in list_watermarks(conn, source.id)}
        batch: list[Fetched] = []
        rows = 0
        for fetched in make_collector(source, catalogue).fetch(positions, now, since):
            batch.append(fetched)
            rows += fetched.size
            if rows >= BATCH_ROWS:
                _store_batch(engine, source, batch, now, report)
                _take_lease(engine, lease, holder)  # renew: a long back-fill keeps it
                batch, rows = [], 0
        if batch:
            _store_batch(engine, source, batch, now, report)
    finally:
        with engine.begin() as conn:
            release_lease(conn, lease, holder)
    return report


def _take_lease(engine: Engine, name: str, holder: str) -> bool:
    # Leases are about real processes dying, so they run on the wall clock, not on `now`.
    with engine.begin() as conn:
        return acquire_lease(conn, name, holder, datetime.now(timezone.utc), LEASE_TTL_S)


def _store_batch(engine: Engine, source: Source[Any], batch: list[Fetched], now: datetime, report: SourceReport) -> None:
    changes = Changes()
    done: list[StreamReport] = []
    progress: list[Progress] = []
    with engine.begin() as conn:
        for fetched in batch:
            if fetched.error is not None:
                record_failure(conn, source.id, fetched.stream, now, fetched.error)
                done.append(StreamReport(fetched.stream, error=fetched.error))
                continue
            stored = 0
            count = len(fetched.at_ms)
            if count:
                service = np.full(count, fetched.service, dtype=object)
                signal = np.full(count, fetched.signal, dtype=object)
                stored += store_sample_arrays(conn, service, signal, fetched.at_ms, fetched.value, changes)
            if fetched.incidents:
                stored += store_incident_versions(conn, fetched.incidents, changes, now)
            progress.append(Progress(fetched.stream, fetched.position, stored, fetched.refused))
            done.append(
                StreamReport(
                    fetched.stream, stored, fetched.refused, fetched.ignored, detail=fetched.detail, reasons=fetched.reasons
                )
            )
        record_success(conn, source.id, now, progress)
        record_changes(conn, changes.rows(), now)
    report.streams.extend(done)
    report.changed = report.changed or bool(changes)


# --- file drops ---------------------------------------------------------------------------------


def _collect_file_drop(
    engine: Engine, catalogue: Catalogue, source: Source[Any], now: datetime, on_file: FileCallback | None, budget_s: float
) -> SourceReport:
    """The waiting files, oldest first, one by one, exactly as `file_drop.process_file` takes
    each: one transaction per file holding its rows, its content-hash claim and its watermark
    counts; moved after the commit. Skipped while another run holds the folder; new files
    are taken until `budget_s` has passed, the rest are left for the next run."""
    report = SourceReport(source.id, source.kind)
    directory = file_drop.folder(source)
    with file_drop.folder_lock(directory) as held:
        if not held:
            report.skipped = "another worker is collecting this source"
            return report
        began = time.monotonic()
        waiting = file_drop.waiting_files(directory, now)
        for taken, path in enumerate(waiting):
            if taken and time.monotonic() - began >= budget_s:
                report.left = len(waiting) - taken
                break
            _take_file(engine, catalogue, source, path, now, on_file, report)
    return report


def _take_file(
    engine: Engine, catalogue: Catalogue, source: Source[Any], path: Path, now: datetime, on_file: FileCallback | None,
    report: SourceReport,
) -> None:
    outcome = file_drop.process_file(engine, catalogue, source.id, path, now)
    report.files.append(outcome)
    if on_file is not None:
        on_file(source.id, outcome)
    counts = file_drop.file_counts(outcome.report) if outcome.report else {"files": (0, 1)} if outcome.problems else {}
    report.streams.extend(StreamReport(stream, stored, refused) for stream, (stored, refused) in counts.items())
    if outcome.report is not None and outcome.report.changes:
        report.changed = True


def problems(reports: Sequence[SourceReport]) -> list[str]:
    """What went wrong or was refused, one line each, source by source: the refusals of dropped
    files, failed streams, refused values and the notes of streams (a probe's reason for up=0).
    The command line prints them on stderr; the worker logs them."""
    lines: list[str] = []
    for report in reports:
        for outcome in report.files:
            lines.extend(outcome.problems)
        lines.extend(f"{report.source}: {stream.stream}: failed: {stream.error}" for stream in report.failed)
        for stream in report.streams:
            lines.extend(f"{report.source}: {stream.stream}: refused {reason}" for reason in stream.reasons)
            if stream.detail:
                lines.append(f"{report.source}: {stream.stream}: {stream.detail}")
    return lines


def partial(reports: Iterable[SourceReport]) -> bool:
    """Whether a run did less than all it was asked: a stream failed, a value or file was
    refused, or a source stopped on an unexpected error (the command line then exits 1)."""
    return any(
        r.failed or r.refused or r.exception is not None or any(o.problems for o in r.files) for r in reports
    )


def describe(reports: Iterable[SourceReport]) -> list[str]:
    """One line per source run, for logs and the command line."""
    lines = []
    for r in reports:
        if r.exception is not None:
            lines.append(f"{r.source}: stopped by an unexpected error: {type(r.exception).__name__}: {r.exception}")
        elif r.skipped:
            lines.append(f"{r.source}: skipped: {r.skipped}")
        else:
            what = "files" if r.kind == SourceKind.FILE_DROP else "streams"
            count = len(r.files) if r.kind == SourceKind.FILE_DROP else len(r.streams)
            ignored = sum(s.ignored for s in r.streams)
            line = f"{r.source}: {count} {what}, stored {r.stored}, refused {r.refused}, failed {len(r.failed)}"
            line += f", ignored {ignored} (not for a configured service)" if ignored else ""
            lines.append(line + (f", {r.left} left for the next run" if r.left else ""))
    return lines
