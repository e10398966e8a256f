"""Counts the plan limits are checked against: one COUNT, never the rows themselves (a tenant
with thousands of sites would otherwise load them all for every create)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session


def live_of_tenant(session: Session, table: Any, tenant_id: str, gone: str) -> int:
    """How many rows of `table` (a kind's: `tenant_id` and `status` columns) the tenant has
    that are not `gone`."""
    stmt = (
        sa.select(sa.func.count())
        .select_from(table)
        .where(table.tenant_id == tenant_id, table.status != gone)
    )
    return int(session.scalar(stmt) or 0)
