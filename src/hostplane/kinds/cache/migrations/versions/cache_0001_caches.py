"""Tenants' caches (Redis instances) and their ACL users

Revision ID: cache_0001
Revises: 0006
Create Date: 2026-12-07 19:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from hostplane.kernel.store.types import UTCDateTime

revision = "cache_0001"
down_revision = "0006"
branch_labels = ("cache",)
depends_on = "tenant_0001"

LIVE_ONLY: dict[str, Any] = {
    "sqlite_where": sa.text("status != 'DELETED'"),
    "postgresql_where": sa.text("status != 'DELETED'"),
}


def _common() -> list[sa.Column[object]]:
    return [
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "tenant_caches",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("tenant_id", sa.String(length=32), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("memory_mb", sa.Integer(), nullable=False),
        sa.Column("persistence", sa.String(length=8), nullable=False),
        *_common(),
    )
    op.create_index("ix_tenant_caches_tenant_id", "tenant_caches", ["tenant_id"])
    op.create_index(
        "uq_tenant_caches_live_name", "tenant_caches", ["name"], unique=True, **LIVE_ONLY
    )
    op.create_table(
        "tenant_cache_users",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("tenant_id", sa.String(length=32), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column(
            "cache_id", sa.String(length=32), sa.ForeignKey("tenant_caches.id"), nullable=False
        ),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key_prefix", sa.String(length=64), nullable=False),
        *_common(),
    )
    op.create_index("ix_tenant_cache_users_tenant_id", "tenant_cache_users", ["tenant_id"])
    op.create_index("ix_tenant_cache_users_cache_id", "tenant_cache_users", ["cache_id"])
    op.create_index(
        "uq_tenant_cache_users_live_name",
        "tenant_cache_users",
        ["name"],
        unique=True,
        **LIVE_ONLY,
    )


def downgrade() -> None:
    op.drop_table("tenant_cache_users")
    op.drop_table("tenant_caches")
