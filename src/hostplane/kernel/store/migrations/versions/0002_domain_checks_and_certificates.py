"""domain DNS check results, ACME challenge and certificate metadata

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 22:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hostplane.kernel.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("domains", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dns_found", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("dns_expected", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("acme_token", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("acme_validation", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("cert_source", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column(
                "cert_not_after",
                hostplane.kernel.store.types.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("cert_fingerprint", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("domains", schema=None) as batch_op:
        for column in (
            "cert_fingerprint",
            "cert_not_after",
            "cert_source",
            "acme_validation",
            "acme_token",
            "dns_expected",
            "dns_found",
        ):
            batch_op.drop_column(column)
