"""RRsets the platform keeps for a bound custom domain are marked with that domain's name

Revision ID: zone_0002
Revises: zone_0001
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "zone_0002"
down_revision = "zone_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("zone_rrsets", sa.Column("managed_by", sa.String(length=253), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("zone_rrsets") as batch:
        batch.drop_column("managed_by")
