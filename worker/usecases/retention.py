"""Sample retention (issue 15, `SLA_SAMPLES_RETENTION`, default 400 days): samples older than
that are deleted, a bounded batch per transaction, by the beat's daily `sla.apply_retention`.
Results and tally sheets are kept for ever, so reports and 12-month trends never change.

A period that starts before the deletion mark can no longer be scored from its samples: the
scoring use case refuses it (`refuse_deleted_period`: `sla-worker score --period` answers in one
line) and the stored results stay as they were; pending changes that reach back before the
mark (a late file of very old samples) leave those periods alone too (`kept_periods`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine

from worker.domain.errors import SamplesDeleted
from worker.domain.model import Catalogue
from worker.domain.time import from_epoch_s
from worker.scoring.periods import period_bounds
from worker.storage import retention as retention_store
from worker.storage.sample_codec import DAY_MS
from worker.usecases.periods import zones

DEFAULT_RETENTION_S = 400 * 86_400.0
BATCH_BLOCKS = 5_000  # ~10 MB of blocks per transaction: short locks, bounded WAL


@dataclass(frozen=True)
class RetentionRun:
    before: datetime  # samples before this instant are gone
    deleted_blocks: int


def apply_retention(engine: Engine, now: datetime, keep_s: float, batch: int = BATCH_BLOCKS) -> RetentionRun:
    """Delete every sample block whose UTC day ended more than `keep_s` before `now`. The mark
    is recorded first, in its own transaction, so that no scoring run uses a period while its
    samples are half deleted; each batch then commits on its own (a crash mid-way leaves the
    rest for the next run: the mark already covers it)."""
    before_day = int((now.timestamp() - keep_s) * 1000) // DAY_MS
    before = from_epoch_s(before_day * DAY_MS / 1000.0)
    with engine.begin() as conn:
        retention_store.record_deletion(conn, before, now)
    deleted = 0
    while True:
        with engine.begin() as conn:
            done = retention_store.delete_sample_days(conn, before_day, batch)
        deleted += done
        if done < batch:
            return RetentionRun(before, deleted)


def kept_periods(conn: Connection, catalogue: Catalogue, periods: list[str]) -> list[str]:
    """The periods whose samples are all still kept (in every agreement's zone)."""
    mark = retention_store.deleted_before(conn)
    return periods if mark is None else [p for p in periods if _starts(catalogue, p) >= mark.timestamp()]


def refuse_deleted_period(conn: Connection, catalogue: Catalogue, period: str) -> None:
    """Raise SamplesDeleted when `period` starts before the deletion mark."""
    mark = retention_store.deleted_before(conn)
    if mark is not None and _starts(catalogue, period) < mark.timestamp():
        raise SamplesDeleted(
            f"{period} cannot be scored again: sample retention (SLA_SAMPLES_RETENTION) deleted the samples "
            f"before {mark:%Y-%m-%d}; its stored results are kept as they are"
        )


def _starts(catalogue: Catalogue, period: str) -> float:
    """The period's first instant in the earliest of the agreements' zones."""
    return min(period_bounds(period, zone)[0] for zone in zones(catalogue))
