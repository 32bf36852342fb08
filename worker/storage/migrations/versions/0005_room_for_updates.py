"""Room on each page for updated rows of `results` and `tallies` (PostgreSQL fillfactor 70).

Every five minutes a scoring run updates thousands of results and tally sheets in place. On a
full page PostgreSQL must put the new row version on another page and add index entries for it;
with room left on the page it keeps it there with no index work (a heap-only update), which
took a third off the time of writing a five-minute run's results (docs/performance.md). Pages
written from now on keep the room; `VACUUM FULL results, tallies` rewrites the old ones. SQLite
has no such setting.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE results SET (fillfactor = 70)")
        op.execute("ALTER TABLE tallies SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE results RESET (fillfactor)")
        op.execute("ALTER TABLE tallies RESET (fillfactor)")
