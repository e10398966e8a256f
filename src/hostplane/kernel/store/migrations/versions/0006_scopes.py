"""operations and audit events carry the scope (tenant id) of what they are about

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("operations", "audit_events"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("scope", sa.String(length=32), nullable=True))
            batch.create_index(f"ix_{table}_scope", ["scope"])


def downgrade() -> None:
    for table in ("operations", "audit_events"):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_scope")
            batch.drop_column("scope")
