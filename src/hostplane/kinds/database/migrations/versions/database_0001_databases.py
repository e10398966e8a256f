"""Tenants' MariaDB databases and their users

Revision ID: database_0001
Revises: 0006
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from hostplane.kernel.store.types import UTCDateTime

revision = "database_0001"
down_revision = "0006"
branch_labels = ("database",)
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
        "tenant_databases",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("tenant_id", sa.String(length=32), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        *_common(),
    )
    op.create_index("ix_tenant_databases_tenant_id", "tenant_databases", ["tenant_id"])
    op.create_index(
        "uq_tenant_databases_live_name", "tenant_databases", ["name"], unique=True, **LIVE_ONLY
    )
    op.create_table(
        "tenant_database_users",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("tenant_id", sa.String(length=32), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column(
            "database_id",
            sa.String(length=32),
            sa.ForeignKey("tenant_databases.id"),
            nullable=False,
        ),
        sa.Column("label", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("privileges", sa.String(length=8), nullable=False),
        *_common(),
    )
    op.create_index("ix_tenant_database_users_tenant_id", "tenant_database_users", ["tenant_id"])
    op.create_index(
        "ix_tenant_database_users_database_id", "tenant_database_users", ["database_id"]
    )
    op.create_index(
        "uq_tenant_database_users_live_name",
        "tenant_database_users",
        ["name"],
        unique=True,
        **LIVE_ONLY,
    )


def downgrade() -> None:
    op.drop_table("tenant_database_users")
    op.drop_table("tenant_databases")
