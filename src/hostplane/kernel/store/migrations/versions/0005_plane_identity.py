"""this control plane's identity, made at first start

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 01:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hostplane.kernel.store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plane",
        sa.Column("singleton", sa.Integer(), nullable=False),
        sa.Column("plane_id", sa.String(length=32), nullable=False),
        sa.Column("predates_marks", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at", hostplane.kernel.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("singleton"),
    )


def downgrade() -> None:
    op.drop_table("plane")
