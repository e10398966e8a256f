"""The custom domains' repository."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from hostplane.errors import NotFoundError
from hostplane.kernel.store.tables import OperationRow
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kinds.domain.model import ROUTED, DomainStatus
from hostplane.kinds.domain.table import DomainRow
from hostplane.kinds.site.repo import sites
from hostplane.kinds.site.table import SiteRow


@dataclass(frozen=True, slots=True)
class DomainTarget:
    """What a domain's (and its certificate's) steps work on: the domain and its site."""

    domain: DomainRow
    site: SiteRow


def load_target(uow: UnitOfWork, op: OperationRow) -> DomainTarget:
    domain = domains(uow).get(op.target_id)
    if domain is None:
        raise NotFoundError(f"domain of operation {op.id} is gone")
    site = sites(uow).get(domain.site_id)
    if site is None:
        raise NotFoundError(f"site of domain {domain.name} is gone")
    return DomainTarget(domain, site)


class DomainRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: DomainRow) -> DomainRow:
        self.session.add(row)
        return row

    def get(self, domain_id: str) -> DomainRow | None:
        return self.session.get(DomainRow, domain_id)

    def get_live(self, name: str) -> DomainRow | None:
        stmt = sa.select(DomainRow).where(
            DomainRow.name == name, DomainRow.status != DomainStatus.REMOVED
        )
        return self.session.scalars(stmt).one_or_none()

    def held_below(self, registrable: str, tenant_id: str | None) -> DomainRow | None:
        """A live domain at or below `registrable` whose site is another tenant's than
        `tenant_id`'s (the first by name), if any."""
        stmt = (
            sa.select(DomainRow)
            .join(SiteRow, SiteRow.id == DomainRow.site_id)
            .where(
                DomainRow.status != DomainStatus.REMOVED,
                sa.or_(
                    DomainRow.name == registrable,
                    DomainRow.name.endswith(f".{registrable}", autoescape=True),
                ),
                SiteRow.tenant_id.is_distinct_from(tenant_id),
            )
            .order_by(DomainRow.name)
            .limit(1)
        )
        return self.session.scalars(stmt).first()

    def with_certificates(self) -> Sequence[DomainRow]:
        stmt = sa.select(DomainRow).where(
            DomainRow.status == DomainStatus.ACTIVE, DomainRow.cert_source.is_not(None)
        )
        return self.session.scalars(stmt.order_by(DomainRow.name)).all()

    def for_site(self, site_id: str, *, live_only: bool = True) -> Sequence[DomainRow]:
        stmt = sa.select(DomainRow).where(DomainRow.site_id == site_id)
        if live_only:
            stmt = stmt.where(DomainRow.status != DomainStatus.REMOVED)
        return self.session.scalars(stmt.order_by(DomainRow.name)).all()

    def served(self, site_id: str | None = None) -> dict[str, list[DomainRow]]:
        """Per routed site that has any, its domains that are ROUTING or ACTIVE (with
        `site_id`, that site's alone). One join, not a bound parameter per site (SQLite caps
        those: 32,766 by default, 250,000 in Debian's build)."""
        stmt = (
            sa.select(DomainRow)
            .join(SiteRow, SiteRow.id == DomainRow.site_id)
            .where(SiteRow.routed.is_(True), DomainRow.status.in_(ROUTED))
            .order_by(DomainRow.name)
        )
        if site_id is not None:
            stmt = stmt.where(DomainRow.site_id == site_id)
        served: dict[str, list[DomainRow]] = {}
        for row in self.session.scalars(stmt):
            served.setdefault(row.site_id, []).append(row)
        return served


def domains(uow: UnitOfWork) -> DomainRepository:
    return uow.repo(DomainRepository)


def served_domains(uow: UnitOfWork, site_id: str | None = None) -> dict[str, list[DomainRow]]:
    """Per routed site (or that one site), the custom domains the edge (and the tunnel)
    serve for it."""
    return domains(uow).served(site_id)
