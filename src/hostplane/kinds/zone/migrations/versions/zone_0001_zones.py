"""DNS zones of tenants and the RRsets the database wants in them

Revision ID: zone_0001
Revises: 0006
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hostplane.kernel.store.types import UTCDateTime

revision = "zone_0001"
down_revision = "0006"
branch_labels = ("zone",)
depends_on = "tenant_0001"


def _times() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "zones",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("tenant_id", sa.String(length=32), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        *_times(),
    )
    op.create_index("ix_zones_tenant_id", "zones", ["tenant_id"])
    op.create_index(
        "uq_zones_live_name",
        "zones",
        ["name"],
        unique=True,
        sqlite_where=sa.text("status != 'DELETED'"),
        postgresql_where=sa.text("status != 'DELETED'"),
    )
    op.create_table(
        "zone_rrsets",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("zone_id", sa.String(length=32), sa.ForeignKey("zones.id"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=10), nullable=False),
        sa.Column("ttl", sa.Integer(), nullable=False),
        sa.Column("contents", sa.JSON(), nullable=False),
        *_times(),
    )
    op.create_index("ix_zone_rrsets_zone_id", "zone_rrsets", ["zone_id"])
    op.create_index("uq_zone_rrsets_key", "zone_rrsets", ["zone_id", "name", "type"], unique=True)


def downgrade() -> None:
    op.drop_table("zone_rrsets")
    op.drop_table("zones")
