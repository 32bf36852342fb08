"""burn_rates.coverage: the share of a window's counted time that has data (availability
objectives), so the data-missing alert (SPEC 7) works whatever the objective's missing_data.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("burn_rates") as batch:
        batch.add_column(sa.Column("coverage", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("burn_rates") as batch:
        batch.drop_column("coverage")
