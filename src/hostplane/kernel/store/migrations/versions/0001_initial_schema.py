"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 02:18:36.136614
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hostplane.kernel.store.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", hostplane.kernel.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target_name", sa.String(length=253), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("operation_id", sa.String(length=32), nullable=True),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "nodes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("cluster", sa.String(length=63), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("is_system", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at", hostplane.kernel.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "operations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target_name", sa.String(length=253), nullable=False),
        sa.Column("target_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("active_target", sa.String(length=300), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at", hostplane.kernel.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "started_at", hostplane.kernel.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "finished_at", hostplane.kernel.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("active_target"),
        sa.UniqueConstraint("idempotency_key"),
    )
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_operations_target_id"), ["target_id"], unique=False)

    op.create_table(
        "secrets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("owner_kind", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column(
            "created_at", hostplane.kernel.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("secrets", schema=None) as batch_op:
        batch_op.create_index(
            "uq_secrets_owner_name", ["owner_kind", "owner_id", "name"], unique=True
        )

    op.create_table(
        "sites",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("runtime", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("routed", sa.Boolean(), nullable=False),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("admin_email", sa.String(length=254), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at", hostplane.kernel.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", hostplane.kernel.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.create_index("ix_sites_status_name", ["status", "name"], unique=False)
        batch_op.create_index(
            "uq_sites_live_name",
            ["name"],
            unique=True,
            sqlite_where=sa.text("status != 'DESTROYED'"),
            postgresql_where=sa.text("status != 'DESTROYED'"),
        )

    op.create_table(
        "status_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resource_kind", sa.String(length=16), nullable=False),
        sa.Column("resource_id", sa.String(length=32), nullable=False),
        sa.Column("resource_name", sa.String(length=253), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("operation_id", sa.String(length=32), nullable=True),
        sa.Column("at", hostplane.kernel.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("status_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_status_events_resource", ["resource_kind", "resource_id", "id"], unique=False
        )

    op.create_table(
        "domains",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("site_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=253), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "last_checked_at",
            hostplane.kernel.store.types.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at", hostplane.kernel.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "updated_at", hostplane.kernel.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("domains", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_domains_site_id"), ["site_id"], unique=False)
        batch_op.create_index(
            "uq_domains_live_name",
            ["name"],
            unique=True,
            sqlite_where=sa.text("status != 'REMOVED'"),
            postgresql_where=sa.text("status != 'REMOVED'"),
        )

    op.create_table(
        "operation_steps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("operation_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column(
            "started_at", hostplane.kernel.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "finished_at", hostplane.kernel.store.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("elapsed_ms", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["operations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("operation_steps", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_operation_steps_operation_id"), ["operation_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("operation_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_operation_steps_operation_id"))

    op.drop_table("operation_steps")
    with op.batch_alter_table("domains", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_domains_live_name",
            sqlite_where=sa.text("status != 'REMOVED'"),
            postgresql_where=sa.text("status != 'REMOVED'"),
        )
        batch_op.drop_index(batch_op.f("ix_domains_site_id"))

    op.drop_table("domains")
    with op.batch_alter_table("status_events", schema=None) as batch_op:
        batch_op.drop_index("ix_status_events_resource")

    op.drop_table("status_events")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_sites_live_name",
            sqlite_where=sa.text("status != 'DESTROYED'"),
            postgresql_where=sa.text("status != 'DESTROYED'"),
        )
        batch_op.drop_index("ix_sites_status_name")

    op.drop_table("sites")
    with op.batch_alter_table("secrets", schema=None) as batch_op:
        batch_op.drop_index("uq_secrets_owner_name")

    op.drop_table("secrets")
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_operations_target_id"))

    op.drop_table("operations")
    op.drop_table("nodes")
    op.drop_table("audit_events")
