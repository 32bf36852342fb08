"""The `file_drop` source: CSV files dropped into a folder (SPEC 5).

A file is told apart by its header (samples, incidents or maintenance), ingested in one
transaction together with a record of its content hash, and only then moved to `done/`, or to
`refused/` with `NAME.errors.txt` beside it when any row was refused (its first line says how
many rows were accepted and stored: a refused file is not a lost file). A worker that dies at any
point leaves the file in the folder (or already moved): processed again, the hash shows its
rows are stored, so nothing is lost and nothing counted twice.

Writers should write under a temporary name (not ending in `.csv`, e.g. `x.csv.part`) and
rename when done; files modified in the last two seconds are left for the next run.

One run at a time works a folder (`folder_lock`): a second run, started while the first is
still busy with a burst of files, skips the folder instead of racing it file by file (both
would read and store every file, one of them in vain, holding two worker processes).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from worker.config import fields as read
from worker.domain.model import Catalogue, Source, SourceKind
from worker.inputs.common import Refusal, detect_kind, unknown_header_reason
from worker.sources.base import SourcePlugin
from worker.storage.coordination import record_changes
from worker.storage.engine import read_only
from worker.storage.watermarks import Progress, claim_file, get_ingested_file, record_success
from worker.usecases.ingest import IngestReport, store_input

SETTLE_S = 2.0
LOCK_NAME = ".sla-worker.lock"  # a dot name: never taken for a dropped file


class AlreadyIngested(Exception):
    """Another worker committed the same file first: roll back this copy of the work."""


@dataclass
class DropOutcome:
    path: Path
    moved_to: Path | None
    report: IngestReport | None = None
    duplicate: bool = False
    problems: list[str] = field(default_factory=list)


KIND = SourceKind.FILE_DROP


@dataclass(frozen=True, kw_only=True)
class Options:
    path: str = read.option(read.name)


def folder(source: Source[Options]) -> Path:
    """The drop folder; relative paths are relative to the working directory (SPEC 2)."""
    return Path(source.options.path)


def waiting_files(directory: Path, now: datetime) -> list[Path]:
    """CSV files ready to take, oldest first."""
    if not directory.is_dir():
        return []
    ready = []
    for path in directory.iterdir():
        if path.suffix.lower() != ".csv" or path.name.startswith(".") or not path.is_file():
            continue
        try:
            modified = path.stat().st_mtime
        except FileNotFoundError:
            continue  # taken by another worker meanwhile
        if now.timestamp() - modified >= SETTLE_S:
            ready.append((modified, path.name, path))
    return [p for _, _, p in sorted(ready)]


@contextmanager
def folder_lock(directory: Path) -> Iterator[bool]:
    """Hold the drop folder for one run: yields True when this run may take its files, False
    when another process (or another run in this one) holds it. An `flock` on a lock file in
    the folder: the kernel lets go of it when its holder exits, however it dies, so a crashed
    worker never leaves the folder locked — the next run takes over at once. A folder that
    cannot hold the lock (absent, read-only, on a filesystem without locks) is taken
    unlocked: the content-hash claim still stores every file once."""
    try:
        descriptor = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o640)
    except OSError:
        yield True
        return
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = True
        except BlockingIOError:
            held = False  # another run has it
        except OSError:
            held = True  # a filesystem without locks (ENOLCK): taken unlocked, as above
        yield held
    finally:
        os.close(descriptor)  # releases the lock


def process_file(engine: Engine, catalogue: Catalogue, source_id: str, path: Path, now: datetime) -> DropOutcome:
    """Ingest one dropped file exactly once and move it out of the way. Its counts go to the
    source's watermarks in the same transaction as its rows."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return DropOutcome(path, None, duplicate=True)
    digest = hashlib.sha256(data).hexdigest()
    header = data.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
    kind = detect_kind(header)
    if kind is None:
        problems = [Refusal(1, unknown_header_reason(header)).describe(path.name)]
        with engine.begin() as conn:
            if claim_file(conn, digest, path.name, "unknown", 0, 1, now):
                record_success(conn, source_id, now, [Progress("files", refused=1)])
        return DropOutcome(path, _move(path, "refused", [summary(0, 1), *problems]), problems=problems)
    with read_only(engine) as conn:
        if get_ingested_file(conn, digest) is not None:
            return DropOutcome(path, _move(path, "done", None), duplicate=True)
    try:
        with engine.begin() as conn:
            report = store_input(conn, catalogue, kind, data, now)
            record_changes(conn, report.changes.rows(), now)
            counts = file_counts(report).items()
            record_success(conn, source_id, now, [Progress(stream, None, stored, refused) for stream, (stored, refused) in counts])
            if not claim_file(conn, digest, path.name, kind, report.accepted, report.refused, now):
                raise AlreadyIngested(path.name)
    except AlreadyIngested:
        return DropOutcome(path, _move(path, "done", None), duplicate=True)
    problems = [r.describe(path.name) for r in report.refusals]
    if not problems:
        return DropOutcome(path, _move(path, "done", None), report)
    return DropOutcome(path, _move(path, "refused", [summary(report.accepted, report.refused), *problems]), report)


def summary(accepted: int, refused: int) -> str:
    """The first line of a refused file's `.errors.txt`: the file sits in `refused/`, but
    its good rows are stored; whoever fixes it must know not to think the whole file lost."""
    if accepted == 0:
        return f"accepted 0, refused {refused}: nothing from this file was stored; the refusals are listed below"
    rows = "row was" if accepted == 1 else "rows were"
    return (
        f"accepted {accepted} (stored), refused {refused}: the {accepted} accepted {rows} stored; "
        "only the refused rows listed below are missing"
    )


def file_counts(report: IngestReport) -> dict[str, tuple[int, int]]:
    """(stored, refused) by watermark stream for one ingested file: samples per
    "<service>/<signal>" (refused sample rows under "samples"), incidents and maintenance
    under their kind."""
    if report.kind != "samples":
        return {report.kind: (report.accepted, report.refused)}
    counts = {stream: (stored, 0) for stream, stored in report.streams.items()}
    if report.refused:
        counts["samples"] = (0, report.refused)
    return counts


def _move(path: Path, where: str, problems: list[str] | None) -> Path | None:
    """Move into `where/` (errors file first, so a refused file never sits without its reasons).
    A name already there gets a numeric suffix rather than overwriting an earlier file."""
    target_dir = path.parent / where
    target_dir.mkdir(exist_ok=True)
    target = target_dir / path.name
    counter = 1
    while target.exists():
        target = target_dir / f"{path.stem}.{counter}{path.suffix}"
        counter += 1
    if problems:
        errors = target.with_name(target.name + ".errors.txt")
        errors.write_text("\n".join(problems) + "\n", encoding="utf-8")
        os.chmod(errors, 0o640)
    try:
        shutil.move(str(path), str(target))
    except FileNotFoundError:
        return None  # another worker moved it first
    return target


# No collector: `worker.collect` works the folder itself, one file and one transaction at a time.
PLUGIN = SourcePlugin(KIND, Options, None)
