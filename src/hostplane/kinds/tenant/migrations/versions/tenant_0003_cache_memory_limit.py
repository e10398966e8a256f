"""plans limit the memory of all their tenants' caches together: existing plans get 20480 MB

Revision ID: tenant_0003
Revises: tenant_0002
Create Date: 2026-12-08 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "tenant_0003"
down_revision = "tenant_0002"
branch_labels = None
depends_on = None

# The cache_memory_mb limit of every plan that predates it (kinds/tenant/model.py
# DEFAULT_LIMITS): what the default plan allowed before, 20 caches of the plane's largest
# (HOSTPLANE_CACHE_MAX_MEMORY_MB, 1024 by default), so no existing tenant loses room.
CACHE_MEMORY_MB = 20480


def upgrade() -> None:
    # As tenant_0002: NOT NULL with a server default fills the existing rows; a plain ADD
    # COLUMN (no batch mode): on SQLite a batch copy of `plans` would drop a table `tenants`
    # refers to.
    op.add_column(
        "plans",
        sa.Column(
            "cache_memory_mb",
            sa.Integer(),
            nullable=False,
            server_default=sa.text(str(CACHE_MEMORY_MB)),
        ),
    )


def downgrade() -> None:
    op.drop_column("plans", "cache_memory_mb")
