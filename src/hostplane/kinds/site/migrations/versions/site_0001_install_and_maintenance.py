"""sites: when WordPress was installed, and why a site is in maintenance

Revision ID: site_0001
Revises: 0005
Create Date: 2026-12-02 02:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hostplane.kernel.store.types import UTCDateTime

revision = "site_0001"
down_revision = "0005"
branch_labels = ("site",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.add_column(
            sa.Column(
                "installed_at",
                UTCDateTime(timezone=True),
                nullable=True,
            )
        )
        batch.add_column(sa.Column("maintenance", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("maintenance")
        batch.drop_column("installed_at")
