"""Sample retention (issue 15): deleting whole UTC days of sample blocks, and remembering how
far back deletion has gone (the `retention` table), so that nobody scores a period from
samples that are no longer there."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from worker.storage.tables import dialect_insert, retention

SAMPLES = "samples"

_DELETE_BATCH = (
    "DELETE FROM sample_days WHERE (service_key, signal, day) IN "
    "(SELECT service_key, signal, day FROM sample_days WHERE day < :day ORDER BY day LIMIT :limit)"
)


def deleted_before(conn: Connection, data: str = SAMPLES) -> datetime | None:
    """The instant before which `data` has been deleted; None when retention never deleted any."""
    found: datetime | None = conn.execute(select(retention.c.before).where(retention.c.data == data)).scalar()
    return found


def record_deletion(conn: Connection, before: datetime, now: datetime, data: str = SAMPLES) -> None:
    """Remember that `data` before `before` is (being) deleted; the mark only moves forward."""
    insert = dialect_insert(conn)(retention).values(data=data, before=before, ran_at=now)
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["data"],
            set_={"before": insert.excluded.before, "ran_at": insert.excluded.ran_at},
            where=retention.c.before <= insert.excluded.before,
        )
    )


def delete_sample_days(conn: Connection, before_day: int, limit: int) -> int:
    """Delete up to `limit` sample blocks of UTC days before `before_day`; returns how many."""
    return int(conn.execute(text(_DELETE_BATCH), {"day": before_day, "limit": limit}).rowcount)
