"""The repositories of tenants' caches and cache users."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from hostplane.errors import NotFoundError
from hostplane.kernel.store import counts
from hostplane.kernel.store.tables import OperationRow
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kinds.cache.model import USER_OPS, CacheStatus
from hostplane.kinds.cache.table import CacheRow, CacheUserRow

DELETED = CacheStatus.DELETED


class CacheRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: CacheRow) -> CacheRow:
        self.session.add(row)
        return row

    def get(self, cache_id: str) -> CacheRow | None:
        return self.session.get(CacheRow, cache_id)

    def get_live(self, name: str) -> CacheRow | None:
        stmt = sa.select(CacheRow).where(CacheRow.name == name, CacheRow.status != DELETED)
        return self.session.scalars(stmt).one_or_none()

    def live_or_404(self, name: str, scope: str | None = None) -> CacheRow:
        """The live cache of that instance name; with `scope` (a tenant's token) only that
        tenant's: any other is not found, as if it did not exist."""
        row = self.get_live(name)
        if row is None or (scope is not None and row.tenant_id != scope):
            raise NotFoundError(f"no cache is named {name!r}")
        return row

    def get_latest(self, name: str) -> CacheRow | None:
        live = self.get_live(name)
        if live is not None:
            return live
        stmt = (
            sa.select(CacheRow)
            .where(CacheRow.name == name)
            .order_by(CacheRow.updated_at.desc())
            .limit(1)
        )
        return self.session.scalars(stmt).first()

    def count_of_tenant(self, tenant_id: str) -> int:
        """How many live ones the tenant has (what its plan's limit counts)."""
        return counts.live_of_tenant(self.session, CacheRow, tenant_id, DELETED)

    def of_tenant(self, tenant_id: str) -> Sequence[CacheRow]:
        stmt = sa.select(CacheRow).where(
            CacheRow.tenant_id == tenant_id, CacheRow.status != DELETED
        )
        return self.session.scalars(stmt.order_by(CacheRow.name)).all()

    def live_ports(self) -> list[int]:
        stmt = sa.select(CacheRow.port).where(
            CacheRow.port.is_not(None), CacheRow.status != DELETED
        )
        return [p for p in self.session.scalars(stmt) if p is not None]

    def memory_of_tenant(self, tenant_id: str) -> int:
        """The memory_mb of all the tenant's live caches together (a plan's cache_memory_mb)."""
        stmt = sa.select(sa.func.coalesce(sa.func.sum(CacheRow.memory_mb), 0)).where(
            CacheRow.tenant_id == tenant_id, CacheRow.status != DELETED
        )
        return int(self.session.scalar(stmt) or 0)

    def live(self) -> Sequence[CacheRow]:
        stmt = sa.select(CacheRow).where(CacheRow.status != DELETED)
        return self.session.scalars(stmt.order_by(CacheRow.name)).all()

    def touch(self, row: CacheRow) -> None:
        row.version += 1


class CacheUserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: CacheUserRow) -> CacheUserRow:
        self.session.add(row)
        return row

    def get(self, user_id: str) -> CacheUserRow | None:
        return self.session.get(CacheUserRow, user_id)

    def get_live(self, handle: str) -> CacheUserRow | None:
        stmt = sa.select(CacheUserRow).where(
            CacheUserRow.name == handle, CacheUserRow.status != DELETED
        )
        return self.session.scalars(stmt).one_or_none()

    def of_cache(self, cache_id: str) -> Sequence[CacheUserRow]:
        stmt = sa.select(CacheUserRow).where(
            CacheUserRow.cache_id == cache_id, CacheUserRow.status != DELETED
        )
        return self.session.scalars(stmt.order_by(CacheUserRow.label)).all()

    def live(self) -> Sequence[CacheUserRow]:
        stmt = sa.select(CacheUserRow).where(CacheUserRow.status != DELETED)
        return self.session.scalars(stmt.order_by(CacheUserRow.name)).all()

    def touch(self, row: CacheUserRow) -> None:
        row.version += 1


def caches(uow: UnitOfWork) -> CacheRepository:
    return uow.repo(CacheRepository)


def users(uow: UnitOfWork) -> CacheUserRepository:
    return uow.repo(CacheUserRepository)


def load_target(uow: UnitOfWork, op: OperationRow) -> CacheRow | CacheUserRow:
    """The cache, or the cache user, an operation works on."""
    by_id = users(uow).get if op.kind in USER_OPS else caches(uow).get
    row: CacheRow | CacheUserRow | None = by_id(op.target_id)
    if row is None:
        raise NotFoundError(f"{op.target_kind} {op.target_id} is gone from the state database")
    return row
