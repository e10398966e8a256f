"""a cache's loopback TCP port, asked at its create: unique among live caches

Revision ID: cache_0002
Revises: cache_0001
Create Date: 2026-12-08 22:30:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "cache_0002"
down_revision = "cache_0001"
branch_labels = None
depends_on = None

LIVE_ONLY: dict[str, Any] = {
    "sqlite_where": sa.text("status != 'DELETED'"),
    "postgresql_where": sa.text("status != 'DELETED'"),
}


def upgrade() -> None:
    # Nullable (existing caches have none): a plain ADD COLUMN, as tenant_0002 explains.
    op.add_column("tenant_caches", sa.Column("port", sa.Integer(), nullable=True))
    op.create_index(
        "uq_tenant_caches_live_port", "tenant_caches", ["port"], unique=True, **LIVE_ONLY
    )


def downgrade() -> None:
    op.drop_index("uq_tenant_caches_live_port", table_name="tenant_caches")
    op.drop_column("tenant_caches", "port")
