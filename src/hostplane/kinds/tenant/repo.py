"""The tenants' repositories: tenants, plans, SSH keys, tokens. The unit of work commits."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from hostplane.errors import NotFoundError
from hostplane.kernel.store.types import utcnow
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kinds.tenant.model import DEFAULT_PLAN, HOSTED, Limits, TenantStatus
from hostplane.kinds.tenant.table import PlanRow, SshKeyRow, TenantRow, TokenRow


class TenantRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: TenantRow) -> TenantRow:
        self.session.add(row)
        return row

    def get(self, tenant_id: str) -> TenantRow | None:
        return self.session.get(TenantRow, tenant_id)

    def get_live(self, name: str) -> TenantRow | None:
        stmt = sa.select(TenantRow).where(
            TenantRow.name == name, TenantRow.status != TenantStatus.DELETED
        )
        return self.session.scalars(stmt).one_or_none()

    def live_or_404(self, name: str, scope: str | None = None) -> TenantRow:
        """The live tenant of that name; with `scope` (a tenant's token), only that tenant:
        any other name is not found, as if it did not exist."""
        tenant = self.get_live(name)
        if tenant is None or (scope is not None and tenant.id != scope):
            raise NotFoundError(f"no tenant is named {name!r}")
        return tenant

    def get_latest(self, name: str) -> TenantRow | None:
        live = self.get_live(name)
        if live is not None:
            return live
        stmt = (
            sa.select(TenantRow)
            .where(TenantRow.name == name)
            .order_by(TenantRow.updated_at.desc())
            .limit(1)
        )
        return self.session.scalars(stmt).first()

    def page(
        self, *, status: str | None, after: str | None, limit: int, scope: str | None
    ) -> Sequence[TenantRow]:
        stmt = sa.select(TenantRow)
        if status is None:
            stmt = stmt.where(TenantRow.status != TenantStatus.DELETED)
        else:
            stmt = stmt.where(TenantRow.status == status)
        if scope is not None:
            stmt = stmt.where(TenantRow.id == scope)
        if after:
            stmt = stmt.where(TenantRow.name > after)
        return self.session.scalars(stmt.order_by(TenantRow.name).limit(limit)).all()

    def touch(self, tenant: TenantRow) -> None:
        """Bump the tenant's version: two requests that both touch it cannot both commit (a
        site added while its tenant is deleted, say)."""
        tenant.updated_at = utcnow()

    def live(self) -> Sequence[TenantRow]:
        stmt = sa.select(TenantRow).where(TenantRow.status != TenantStatus.DELETED)
        return self.session.scalars(stmt.order_by(TenantRow.name)).all()

    def hosted(self) -> Sequence[TenantRow]:
        """Tenants whose account must exist on the host."""
        stmt = sa.select(TenantRow).where(TenantRow.status.in_(sorted(HOSTED)))
        return self.session.scalars(stmt.order_by(TenantRow.name)).all()

    def names(self, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        stmt = sa.select(TenantRow.id, TenantRow.name).where(TenantRow.id.in_(list(ids)))
        return {row.id: row.name for row in self.session.execute(stmt)}

    def on_plan(self, plan_id: str) -> int:
        stmt = sa.select(sa.func.count()).where(
            TenantRow.plan_id == plan_id, TenantRow.status != TenantStatus.DELETED
        )
        return int(self.session.scalar(stmt) or 0)


class PlanRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: PlanRow) -> PlanRow:
        self.session.add(row)
        return row

    def get(self, plan_id: str) -> PlanRow | None:
        return self.session.get(PlanRow, plan_id)

    def by_name(self, name: str) -> PlanRow | None:
        return self.session.scalars(sa.select(PlanRow).where(PlanRow.name == name)).one_or_none()

    def by_name_or_404(self, name: str) -> PlanRow:
        plan = self.by_name(name)
        if plan is None:
            raise NotFoundError(f"no plan is named {name!r}: see hostctl plan list")
        return plan

    def default(self) -> PlanRow:
        plan = self.by_name(DEFAULT_PLAN)
        assert plan is not None, "the default plan is made by the tenants' first migration"
        return plan

    def all(self) -> Sequence[PlanRow]:
        return self.session.scalars(sa.select(PlanRow).order_by(PlanRow.name)).all()


def limits_of(plan: PlanRow) -> Limits:
    return Limits(
        sites=plan.sites,
        databases=plan.databases,
        caches=plan.caches,
        disk_mb=plan.disk_mb,
        php_workers=plan.php_workers,
        zones=plan.zones,
        cache_memory_mb=plan.cache_memory_mb,
    )


class KeyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: SshKeyRow) -> SshKeyRow:
        self.session.add(row)
        return row

    def get(self, key_id: str) -> SshKeyRow | None:
        return self.session.get(SshKeyRow, key_id)

    def of(self, tenant_id: str) -> Sequence[SshKeyRow]:
        stmt = sa.select(SshKeyRow).where(SshKeyRow.tenant_id == tenant_id)
        return self.session.scalars(stmt.order_by(SshKeyRow.created_at, SshKeyRow.id)).all()

    def of_tenants(self, tenant_ids: Sequence[str]) -> dict[str, list[SshKeyRow]]:
        found: dict[str, list[SshKeyRow]] = {t: [] for t in tenant_ids}
        if not tenant_ids:
            return found
        stmt = sa.select(SshKeyRow).where(SshKeyRow.tenant_id.in_(list(tenant_ids)))
        for row in self.session.scalars(stmt.order_by(SshKeyRow.created_at, SshKeyRow.id)):
            found[row.tenant_id].append(row)
        return found

    def find(self, tenant_id: str, fingerprint: str) -> SshKeyRow | None:
        stmt = sa.select(SshKeyRow).where(
            SshKeyRow.tenant_id == tenant_id, SshKeyRow.fingerprint == fingerprint
        )
        return self.session.scalars(stmt).one_or_none()

    def delete(self, row: SshKeyRow) -> None:
        self.session.delete(row)


class TokenRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: TokenRow) -> TokenRow:
        self.session.add(row)
        return row

    def by_digest(self, digest: str) -> TokenRow | None:
        stmt = sa.select(TokenRow).where(TokenRow.digest == digest)
        return self.session.scalars(stmt).one_or_none()

    def get(self, token_id: str) -> TokenRow | None:
        return self.session.get(TokenRow, token_id)

    def listing(self, tenant_id: str | None) -> Sequence[TokenRow]:
        stmt = sa.select(TokenRow)
        if tenant_id is not None:
            stmt = stmt.where(TokenRow.tenant_id == tenant_id)
        return self.session.scalars(stmt.order_by(TokenRow.created_at, TokenRow.id)).all()


def tenants(uow: UnitOfWork) -> TenantRepository:
    return uow.repo(TenantRepository)


def plans(uow: UnitOfWork) -> PlanRepository:
    return uow.repo(PlanRepository)


def keys(uow: UnitOfWork) -> KeyRepository:
    return uow.repo(KeyRepository)


def tokens(uow: UnitOfWork) -> TokenRepository:
    return uow.repo(TokenRepository)
