"""plans limit the number of DNS zones of their tenants: existing plans get 100

Revision ID: tenant_0002
Revises: tenant_0001
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "tenant_0002"
down_revision = "tenant_0001"
branch_labels = None
depends_on = None

# The zones limit of every plan that predates it (kinds/tenant/model.py DEFAULT_LIMITS).
ZONES = 100


def upgrade() -> None:
    # NOT NULL with a server default fills the existing rows; a plain ADD COLUMN (no batch
    # mode): on SQLite a batch copy of `plans` would drop a table `tenants` refers to.
    op.add_column(
        "plans",
        sa.Column("zones", sa.Integer(), nullable=False, server_default=sa.text(str(ZONES))),
    )


def downgrade() -> None:
    op.drop_column("plans", "zones")
