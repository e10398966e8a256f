"""tenants, plans (with the default plan), tenants' SSH keys and tenant-scoped API tokens

Revision ID: tenant_0001
Revises: 0006
Create Date: 2026-12-02 04:00:00
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

from hostplane.kernel.store.types import UTCDateTime, utcnow

revision = "tenant_0001"
down_revision = "0006"
branch_labels = ("tenant",)
depends_on = None

# The default plan's limits (kinds/tenant/model.py DEFAULT_LIMITS, as they were here).
DEFAULT = {"sites": 100, "databases": 100, "caches": 20, "disk_mb": 10240, "php_workers": 5}


def _times() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    plans = op.create_table(
        "plans",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("name", sa.String(length=32), nullable=False, unique=True),
        *(sa.Column(limit, sa.Integer(), nullable=False) for limit in DEFAULT),
        *_times(),
    )
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("plan_id", sa.String(length=32), sa.ForeignKey("plans.id"), nullable=False),
        sa.Column("made_for", sa.String(length=63), nullable=True),
        sa.Column("suspension", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("disk_used_mb", sa.Integer(), nullable=True),
        sa.Column("disk_measured_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        *_times(),
    )
    op.create_index("ix_tenants_plan_id", "tenants", ["plan_id"])
    op.create_index(
        "uq_tenants_live_name",
        "tenants",
        ["name"],
        unique=True,
        sqlite_where=sa.text("status != 'DELETED'"),
        postgresql_where=sa.text("status != 'DELETED'"),
    )
    op.create_table(
        "tenant_ssh_keys",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("tenant_id", sa.String(length=32), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("algorithm", sa.String(length=64), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("comment", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_tenant_ssh_keys_tenant_id", "tenant_ssh_keys", ["tenant_id"])
    op.create_index(
        "uq_tenant_ssh_keys_fingerprint",
        "tenant_ssh_keys",
        ["tenant_id", "fingerprint"],
        unique=True,
    )
    op.create_table(
        "tenant_tokens",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("tenant_id", sa.String(length=32), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_tenant_tokens_tenant_id", "tenant_tokens", ["tenant_id"])
    now = utcnow()
    op.bulk_insert(
        plans,
        [
            {
                "id": uuid.uuid4().hex,
                "name": "default",
                **DEFAULT,
                "created_at": now,
                "updated_at": now,
            }
        ],
    )


def downgrade() -> None:
    for table in ("tenant_tokens", "tenant_ssh_keys", "tenants", "plans"):
        op.drop_table(table)
