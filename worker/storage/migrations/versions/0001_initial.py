"""Initial schema: services, samples, incidents, maintenance, results, tallies, watermarks,
ingested_files, pending_changes, leases, burn_rates, task_durations, reports, alerts,
alert_transitions, silences, notifications, notification_items.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Instants: timestamptz on PostgreSQL, fixed-width naive-UTC text on SQLite (tables.UtcDateTime).
Instant = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "services",
        sa.Column("key", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_services"),
        sa.UniqueConstraint("id", name="uq_services_id"),
    )
    op.create_table(
        "samples",
        sa.Column("service_key", sa.Integer(), nullable=False),
        sa.Column("signal", sa.SmallInteger(), nullable=False),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("service_key", "signal", "at_ms", name="pk_samples"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("customer", sa.Text(), nullable=True),
        sa.Column("priority", sa.Text(), nullable=False),
        sa.Column("opened_at", Instant, nullable=False),
        sa.Column("responded_at", Instant, nullable=True),
        sa.Column("resolved_at", Instant, nullable=True),
        sa.Column("on_hold", sa.Text(), server_default="[]", nullable=False),
        sa.Column("updated_at", Instant, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    op.create_index("ix_incidents_service_opened_at", "incidents", ["service", "opened_at"])
    op.create_table(
        "maintenance",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("start_at", Instant, nullable=False),
        sa.Column("end_at", Instant, nullable=False),
        sa.Column("announced_at", Instant, nullable=True),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("emergency", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_maintenance"),
        sa.UniqueConstraint("service", "start_at", "end_at", name="uq_maintenance_service_start_at_end_at"),
    )
    op.create_table(
        "results",
        sa.Column("agreement", sa.Text(), nullable=False),
        sa.Column("customer", sa.Text(), nullable=False),
        sa.Column("objective", sa.Text(), nullable=False),
        sa.Column("period", sa.Text(), nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("target", sa.Double(), nullable=False),
        sa.Column("warning", sa.Double(), nullable=True),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("good", sa.Double(), nullable=False),
        sa.Column("bad", sa.Double(), nullable=False),
        sa.Column("total", sa.Double(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("coverage", sa.Double(), nullable=True),
        sa.Column("error_budget_remaining", sa.Double(), nullable=True),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("computed_at", Instant, nullable=False),
        sa.PrimaryKeyConstraint("agreement", "customer", "objective", "period", name="pk_results"),
    )
    op.create_index("ix_results_period_customer", "results", ["period", "customer"])
    op.create_table(
        "tallies",
        sa.Column("agreement", sa.Text(), nullable=False),
        sa.Column("objective", sa.Text(), nullable=False),
        sa.Column("period", sa.Text(), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("tallied", sa.LargeBinary(), nullable=False),
        sa.Column("sums", sa.LargeBinary(), nullable=False),
        sa.Column("computed_at", Instant, nullable=False),
        sa.PrimaryKeyConstraint("agreement", "objective", "period", name="pk_tallies"),
    )
    op.create_table(
        "watermarks",
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("stream", sa.Text(), nullable=False),
        sa.Column("position", sa.Text(), nullable=True),
        sa.Column("last_success_at", Instant, nullable=True),
        sa.Column("last_failure_at", Instant, nullable=True),
        sa.Column("failures_in_row", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failures_total", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("samples_stored", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("rows_refused", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("source", "stream", name="pk_watermarks"),
    )
    op.create_table(
        "ingested_files",
        sa.Column("sha256", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("ingested_at", Instant, nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_ingested_files"),
    )
    op.create_table(
        "pending_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("first_s", sa.Double(), nullable=False),
        sa.Column("last_s", sa.Double(), nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pending_changes"),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("expires_at", Instant, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )
    op.create_table(
        "burn_rates",
        sa.Column("agreement", sa.Text(), nullable=False),
        sa.Column("customer", sa.Text(), nullable=False),
        sa.Column("objective", sa.Text(), nullable=False),
        sa.Column("window", sa.Text(), nullable=False),
        sa.Column("good", sa.Double(), nullable=False),
        sa.Column("bad", sa.Double(), nullable=False),
        sa.Column("total", sa.Double(), nullable=False),
        sa.Column("burn_rate", sa.Double(), nullable=True),
        sa.Column("computed_at", Instant, nullable=False),
        sa.PrimaryKeyConstraint("agreement", "customer", "objective", "window", name="pk_burn_rates"),
    )
    op.create_table(
        "task_durations",
        sa.Column("task", sa.Text(), nullable=False),
        sa.Column("le", sa.Text(), nullable=False),
        sa.Column("observations", sa.BigInteger(), nullable=False),
        sa.Column("seconds", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("task", "le", name="pk_task_durations"),
    )
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("customer", sa.Text(), nullable=False),
        sa.Column("period", sa.Text(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("content_sha256", sa.Text(), nullable=False),
        sa.Column("directory", sa.Text(), nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("generation", sa.Integer(), server_default="1", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("sends", sa.Integer(), server_default="0", nullable=False),
        sa.Column("recipients", sa.Text(), server_default="[]", nullable=False),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("claimed_at", Instant, nullable=True),
        sa.Column("sent_at", Instant, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_reports"),
        sa.UniqueConstraint("kind", "customer", "period", name="uq_reports_kind_customer_period"),
    )

    op.create_table(
        "alerts",
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("agreement", sa.Text(), nullable=False),
        sa.Column("customer", sa.Text(), nullable=False),
        sa.Column("objective", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), server_default="", nullable=False),
        sa.Column("firing_since", Instant, nullable=True),
        sa.Column("last_notified_at", Instant, nullable=True),
        sa.Column("resolved_at", Instant, nullable=True),
        sa.Column("updated_at", Instant, nullable=False),
        sa.PrimaryKeyConstraint("rule", "agreement", "customer", "objective", name="pk_alerts"),
    )
    op.create_table(
        "alert_transitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("agreement", sa.Text(), nullable=False),
        sa.Column("customer", sa.Text(), nullable=False),
        sa.Column("objective", sa.Text(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("firing_since", Instant, nullable=False),
        sa.Column("at", Instant, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_transitions"),
    )
    op.create_index("ix_alert_transitions_at", "alert_transitions", ["at"])
    op.create_table(
        "silences",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("customer", sa.Text(), nullable=True),
        sa.Column("starts_at", Instant, nullable=False),
        sa.Column("ends_at", Instant, nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_silences"),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retries", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", Instant, nullable=False),
        sa.Column("claimed_at", Instant, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", Instant, nullable=False),
        sa.Column("sent_at", Instant, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint("idempotency_key", name="uq_notifications_idempotency_key"),
    )
    op.create_index("ix_notifications_status_next_attempt_at", "notifications", ["status", "next_attempt_at"])
    op.create_table(
        "notification_items",
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("agreement", sa.Text(), nullable=False),
        sa.Column("customer", sa.Text(), nullable=False),
        sa.Column("objective", sa.Text(), nullable=False),
        sa.Column("firing_since", Instant, nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("created_at", Instant, nullable=False),
        sa.PrimaryKeyConstraint(
            "rule", "agreement", "customer", "objective", "firing_since", "event", "sequence", "channel",
            name="pk_notification_items",
        ),
    )


def downgrade() -> None:
    op.drop_table("notification_items")
    op.drop_index("ix_notifications_status_next_attempt_at", table_name="notifications")
    op.drop_table("notifications")
    op.drop_table("silences")
    op.drop_index("ix_alert_transitions_at", table_name="alert_transitions")
    op.drop_table("alert_transitions")
    op.drop_table("alerts")
    op.drop_table("reports")
    op.drop_table("task_durations")
    op.drop_table("burn_rates")
    op.drop_table("leases")
    op.drop_table("pending_changes")
    op.drop_table("ingested_files")
    op.drop_table("watermarks")
    op.drop_table("tallies")
    op.drop_index("ix_results_period_customer", table_name="results")
    op.drop_table("results")
    op.drop_table("maintenance")
    op.drop_index("ix_incidents_service_opened_at", table_name="incidents")
    op.drop_table("incidents")
    op.drop_table("samples")
    op.drop_table("services")
