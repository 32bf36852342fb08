"""Compact sample storage (issue 15): `samples` (one row per sample, ~80 bytes each on
PostgreSQL) becomes `sample_days` (one row per series and UTC day holding the day as one
compact block, worker/storage/sample_codec.py); `retention` records what the retention job
has deleted.

The data are moved series by series, each read in day-sized slices and written as blocks, so
memory stays bounded whatever the table holds; the migration runs in one transaction (on
PostgreSQL): a failed upgrade leaves the old table as it was. Downgrade moves the blocks back
into rows.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import sqlalchemy as sa
from alembic import op

from worker.storage import sample_codec as codec

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Instant = sa.DateTime(timezone=True)
_READ_DAYS = 31  # a month of one series per read


def upgrade() -> None:
    op.create_table(
        "sample_days",
        sa.Column("service_key", sa.Integer(), nullable=False),
        sa.Column("signal", sa.SmallInteger(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("first_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_ms", sa.BigInteger(), nullable=False),
        sa.Column("block", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("service_key", "signal", "day", name="pk_sample_days"),
    )
    op.create_index("ix_sample_days_day", "sample_days", ["day"])
    if op.get_bind().dialect.name == "postgresql":
        # Blocks are compressed already: no second compression by TOAST, and a block up to
        # ~8 kB stays in the row instead of a TOAST table (one read instead of two).
        op.execute("ALTER TABLE sample_days ALTER COLUMN block SET STORAGE EXTERNAL")
        op.execute("ALTER TABLE sample_days SET (toast_tuple_target = 8160)")
    op.create_table(
        "retention",
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("before", Instant, nullable=False),
        sa.Column("ran_at", Instant, nullable=False),
        sa.PrimaryKeyConstraint("data", name="pk_retention"),
    )
    _move_rows_into_blocks(op.get_bind())
    op.drop_table("samples")


def downgrade() -> None:
    op.create_table(
        "samples",
        sa.Column("service_key", sa.Integer(), nullable=False),
        sa.Column("signal", sa.SmallInteger(), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("service_key", "signal", "at_ms", name="pk_samples"),
        sqlite_with_rowid=False,
    )
    bind = op.get_bind()
    blocks = bind.execute(sa.text("SELECT service_key, signal, block FROM sample_days ORDER BY service_key, signal, day"))
    insert = sa.text("INSERT INTO samples (service_key, signal, at_ms, value) VALUES (:k, :s, :t, :v)")
    for key, signal, block in blocks.fetchall():
        at_ms, values = codec.decode(bytes(block))
        bind.execute(insert, [{"k": key, "s": signal, "t": t, "v": v} for t, v in zip(at_ms.tolist(), values.tolist())])
    op.drop_table("retention")
    op.drop_index("ix_sample_days_day", table_name="sample_days")
    op.drop_table("sample_days")


def _move_rows_into_blocks(bind: sa.Connection) -> None:
    series = bind.execute(sa.text("SELECT DISTINCT service_key, signal FROM samples")).fetchall()
    insert = sa.text(
        "INSERT INTO sample_days (service_key, signal, day, samples, first_ms, last_ms, block) "
        "VALUES (:k, :s, :d, :n, :first, :last, :block)"
    )
    for key, signal in series:
        for at_ms, values in _slices(bind, key, signal):
            days = codec.day_of(at_ms)
            cut = np.flatnonzero(days[1:] != days[:-1]) + 1
            rows = [
                {"k": key, "s": signal, "d": int(day), "n": len(t), "first": int(t[0]), "last": int(t[-1]),
                 "block": codec.encode(t, v)}
                for day, t, v in zip(days[np.r_[0, cut]], np.split(at_ms, cut), np.split(values, cut))
            ]
            bind.execute(insert, rows)


def _slices(bind: sa.Connection, key: int, signal: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One series' samples in whole UTC days, _READ_DAYS at a time, sorted by time."""
    bounds = bind.execute(
        sa.text("SELECT min(at_ms), max(at_ms) FROM samples WHERE service_key = :k AND signal = :s"), {"k": key, "s": signal}
    ).one()
    first_day, last_day = int(bounds[0]) // codec.DAY_MS, int(bounds[1]) // codec.DAY_MS
    query = sa.text(
        "SELECT at_ms, value FROM samples WHERE service_key = :k AND signal = :s AND at_ms >= :lo AND at_ms < :hi "
        "ORDER BY at_ms"
    )
    for day in range(first_day, last_day + 1, _READ_DAYS):
        lo, hi = day * codec.DAY_MS, (day + _READ_DAYS) * codec.DAY_MS
        rows = bind.execute(query, {"k": key, "s": signal, "lo": lo, "hi": hi}).fetchall()
        if rows:
            at_ms = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            values = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
            yield at_ms, values
