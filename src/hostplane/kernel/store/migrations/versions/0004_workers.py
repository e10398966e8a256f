"""workers and their heartbeats

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 23:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hostplane.kernel.store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("executor_id", sa.String(length=100), nullable=False),
        sa.Column("hostname", sa.String(length=253), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column(
            "started_at", hostplane.kernel.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "heartbeat_at", hostplane.kernel.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("recovered_by", sa.String(length=100), nullable=True),
        sa.Column(
            "recovered_at", hostplane.kernel.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.PrimaryKeyConstraint("executor_id"),
    )


def downgrade() -> None:
    op.drop_table("workers")
