"""a WordPress site's database is one of its tenant's databases: `site` names the site whose
database a row is (label widened to a site name's 63 characters), and every live WordPress
site of the store gets its row, with the status its site's says its database has

Revision ID: database_0002
Revises: database_0001
Create Date: 2026-12-07 22:00:00
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

from hostplane import naming
from hostplane.kernel.store.types import utcnow

revision = "database_0002"
down_revision = "database_0001"
branch_labels = None
depends_on = "site_0002"

REASON = "the database of site {site}, counted as one of its tenant's by the upgrade"
# A site's status → what that says of its database (a FAILED site's may be gone: FAILED).
STATUS = {
    "CREATED": "PENDING",
    "PROVISIONING": "PROVISIONING",
    "ACTIVE": "ACTIVE",
    "FAILED": "FAILED",
    "DESTROYING": "DELETING",
}


def upgrade() -> None:
    # A plain ADD COLUMN (no batch copy on SQLite: tenant_database_users refers to this table);
    # SQLite does not hold a VARCHAR to its length, so only other servers widen `label`.
    op.add_column("tenant_databases", sa.Column("site", sa.String(length=63), nullable=True))
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        op.alter_column(
            "tenant_databases",
            "label",
            type_=sa.String(length=63),
            existing_type=sa.String(length=32),
            existing_nullable=False,
        )
    _backfill(conn)


def _backfill(conn: sa.Connection) -> None:
    sites = conn.execute(
        sa.text(
            "SELECT name, tenant_id, status FROM sites WHERE type = 'wordpress'"
            " AND status != 'DESTROYED' AND tenant_id IS NOT NULL ORDER BY name"
        )
    ).all()
    live = set(
        conn.execute(sa.text("SELECT name FROM tenant_databases WHERE status != 'DELETED'"))
        .scalars()
        .all()
    )
    rows = sa.table(
        "tenant_databases",
        *(sa.column(c) for c in ("id", "tenant_id", "label", "name", "site", "status")),
        *(sa.column(c) for c in ("version", "created_at", "updated_at")),
    )
    events = sa.table(
        "status_events",
        *(sa.column(c) for c in ("resource_kind", "resource_id", "resource_name", "to_status")),
        *(sa.column(c) for c in ("from_status", "reason", "actor", "at")),
    )
    now = utcnow()
    for site, tenant_id, site_status in sites:
        name = naming.site_database(site)
        if name in live:
            continue
        row_id, status = uuid.uuid4().hex, STATUS[site_status]
        conn.execute(
            rows.insert().values(
                id=row_id,
                tenant_id=tenant_id,
                label=site,
                name=name,
                site=site,
                status=status,
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
        conn.execute(
            events.insert().values(
                resource_kind="database",
                resource_id=row_id,
                resource_name=name,
                from_status=None,
                to_status=status,
                reason=REASON.format(site=site),
                actor="upgrade",
                at=now,
            )
        )


def downgrade() -> None:
    conn = op.get_bind()
    gone = "SELECT id FROM tenant_databases WHERE site IS NOT NULL"
    users = f"SELECT id FROM tenant_database_users WHERE database_id IN ({gone})"
    conn.execute(
        sa.text(f"DELETE FROM secrets WHERE owner_kind = 'database-user' AND owner_id IN ({users})")
    )
    conn.execute(sa.text(f"DELETE FROM tenant_database_users WHERE id IN ({users})"))
    conn.execute(sa.text("DELETE FROM tenant_databases WHERE site IS NOT NULL"))
    op.drop_column("tenant_databases", "site")
