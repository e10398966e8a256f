"""reconcile runs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hostplane.kernel.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reconcile_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("prune", sa.Boolean(), nullable=False),
        sa.Column(
            "started_at", hostplane.kernel.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "finished_at", hostplane.kernel.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("repairs", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("reconcile_runs", schema=None) as batch_op:
        batch_op.create_index("ix_reconcile_runs_started", ["started_at"], unique=False)


def downgrade() -> None:
    op.drop_table("reconcile_runs")
