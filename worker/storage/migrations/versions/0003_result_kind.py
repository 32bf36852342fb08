"""results.kind: whether a result is of an agreement or of a supplier's underpinning contract
(SPEC 9.2), so contract results can be stored and listed beside agreement results. Rows stored
before contracts existed are all agreement results.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("kind", sa.Text(), server_default="agreement", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.drop_column("kind")
