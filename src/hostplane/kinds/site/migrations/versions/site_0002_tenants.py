"""every site belongs to a tenant: each live site of a store made before tenants gets a tenant
of its own, named after it, on the default plan (its system user keeps its name, hp-<site>)

Revision ID: site_0002
Revises: site_0001
Create Date: 2026-12-02 04:00:00
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

from hostplane.kernel.store.types import utcnow

revision = "site_0002"
down_revision = "site_0001"
branch_labels = None
depends_on = "tenant_0001"

REASON = "made for site {name} by the upgrade to tenants"


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("tenant_id", sa.String(length=32), nullable=True))
        batch.create_index("ix_sites_tenant_id", ["tenant_id"])
        batch.create_foreign_key("fk_sites_tenant_id", "tenants", ["tenant_id"], ["id"])
    conn = op.get_bind()
    plan = conn.execute(sa.text("SELECT id FROM plans WHERE name = 'default'")).scalar_one()
    live = conn.execute(
        sa.text("SELECT id, name FROM sites WHERE status != 'DESTROYED' ORDER BY name")
    ).all()
    now = utcnow()
    tenants = sa.table(
        "tenants",
        *(sa.column(c) for c in ("id", "name", "status", "plan_id", "made_for", "version")),
        sa.column("created_at"),
        sa.column("updated_at"),
    )
    events = sa.table(
        "status_events",
        *(sa.column(c) for c in ("resource_kind", "resource_id", "resource_name", "to_status")),
        *(sa.column(c) for c in ("from_status", "reason", "actor", "at")),
    )
    for site_id, name in live:
        tenant_id = uuid.uuid4().hex
        conn.execute(
            tenants.insert().values(
                id=tenant_id,
                name=name,
                status="ACTIVE",
                plan_id=plan,
                made_for=name,
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
        conn.execute(
            events.insert().values(
                resource_kind="tenant",
                resource_id=tenant_id,
                resource_name=name,
                from_status=None,
                to_status="ACTIVE",
                reason=REASON.format(name=name),
                actor="upgrade",
                at=now,
            )
        )
        conn.execute(
            sa.text("UPDATE sites SET tenant_id = :tenant WHERE id = :site"),
            {"tenant": tenant_id, "site": site_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.drop_constraint("fk_sites_tenant_id", type_="foreignkey")
        batch.drop_index("ix_sites_tenant_id")
        batch.drop_column("tenant_id")
