"""The zones' repositories: zones and the RRsets the database wants in them."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from hostplane.errors import NotFoundError
from hostplane.kernel.store import counts
from hostplane.kernel.store.tables import OperationRow
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kinds.tenant.table import TenantRow
from hostplane.kinds.zone.model import ZoneStatus
from hostplane.kinds.zone.table import RRsetRow, ZoneRow
from hostplane.providers.powerdns.rrsets import RRset


class ZoneRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: ZoneRow) -> ZoneRow:
        self.session.add(row)
        return row

    def get(self, zone_id: str) -> ZoneRow | None:
        return self.session.get(ZoneRow, zone_id)

    def get_live(self, name: str) -> ZoneRow | None:
        stmt = sa.select(ZoneRow).where(ZoneRow.name == name, ZoneRow.status != ZoneStatus.DELETED)
        return self.session.scalars(stmt).one_or_none()

    def live_or_404(self, name: str, scope: str | None = None) -> ZoneRow:
        """The live zone of that name; with `scope` (a tenant's token) only that tenant's: any
        other is not found, as if it did not exist."""
        zone = self.get_live(name)
        if zone is None or (scope is not None and zone.tenant_id != scope):
            raise NotFoundError(f"no zone is named {name!r}")
        return zone

    def get_latest(self, name: str) -> ZoneRow | None:
        live = self.get_live(name)
        if live is not None:
            return live
        stmt = (
            sa.select(ZoneRow)
            .where(ZoneRow.name == name)
            .order_by(ZoneRow.updated_at.desc())
            .limit(1)
        )
        return self.session.scalars(stmt).first()

    def holders(self, name: str) -> list[tuple[str, str]]:
        """(zone, tenant name) of every live zone that is `name`, above it or under it."""
        labels = name.split(".")
        above = [".".join(labels[i:]) for i in range(1, len(labels))]
        stmt = (
            sa.select(ZoneRow.name, TenantRow.name)
            .join(TenantRow, TenantRow.id == ZoneRow.tenant_id)
            .where(
                ZoneRow.status != ZoneStatus.DELETED,
                sa.or_(
                    ZoneRow.name == name,
                    ZoneRow.name.in_(above),
                    ZoneRow.name.endswith(f".{name}", autoescape=True),
                ),
            )
            .order_by(ZoneRow.name)
        )
        return [(zone, tenant) for zone, tenant in self.session.execute(stmt)]

    def count_of_tenant(self, tenant_id: str) -> int:
        """How many live ones the tenant has (what its plan's limit counts)."""
        return counts.live_of_tenant(self.session, ZoneRow, tenant_id, ZoneStatus.DELETED)

    def of_tenant(self, tenant_id: str) -> Sequence[ZoneRow]:
        stmt = sa.select(ZoneRow).where(
            ZoneRow.tenant_id == tenant_id, ZoneRow.status != ZoneStatus.DELETED
        )
        return self.session.scalars(stmt.order_by(ZoneRow.name)).all()

    def live(self) -> Sequence[ZoneRow]:
        stmt = sa.select(ZoneRow).where(ZoneRow.status != ZoneStatus.DELETED)
        return self.session.scalars(stmt.order_by(ZoneRow.name)).all()

    def serving(self, name: str) -> ZoneRow | None:
        """The ACTIVE zone `name` is in (the zone itself or the deepest one above it)."""
        labels = name.rstrip(".").split(".")
        candidates = [".".join(labels[i:]) for i in range(len(labels) - 1)]
        stmt = sa.select(ZoneRow).where(
            ZoneRow.name.in_(candidates), ZoneRow.status == ZoneStatus.ACTIVE
        )
        return max(self.session.scalars(stmt), key=lambda z: len(z.name), default=None)

    def tenants_serving(self, name: str, tenant_id: str | None) -> ZoneRow | None:
        """The zone `name` is in (see serving) if it is the tenant's: a domain's records go
        only into a zone of the tenant whose site the domain is for."""
        zone = self.serving(name)
        return zone if zone is not None and zone.tenant_id == tenant_id else None

    def page(
        self, *, status: str | None, after: str | None, limit: int, tenant_id: str | None
    ) -> Sequence[ZoneRow]:
        stmt = sa.select(ZoneRow)
        if status is None:
            stmt = stmt.where(ZoneRow.status != ZoneStatus.DELETED)
        else:
            stmt = stmt.where(ZoneRow.status == status)
        if tenant_id is not None:
            stmt = stmt.where(ZoneRow.tenant_id == tenant_id)
        if after is not None:
            stmt = stmt.where(ZoneRow.name > after)
        return self.session.scalars(stmt.order_by(ZoneRow.name).limit(limit)).all()

    def touch(self, zone: ZoneRow) -> None:
        """Bump the version: a concurrent writer that read the old one fails."""
        zone.version += 1


class RRsetRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def of(self, zone_id: str) -> Sequence[RRsetRow]:
        stmt = sa.select(RRsetRow).where(RRsetRow.zone_id == zone_id)
        return self.session.scalars(stmt.order_by(RRsetRow.name, RRsetRow.type)).all()

    def of_zones(self, zone_ids: Sequence[str]) -> dict[str, list[RRsetRow]]:
        found: dict[str, list[RRsetRow]] = {z: [] for z in zone_ids}
        if not zone_ids:
            return found
        stmt = sa.select(RRsetRow).where(RRsetRow.zone_id.in_(zone_ids))
        for row in self.session.scalars(stmt.order_by(RRsetRow.name, RRsetRow.type)):
            found[row.zone_id].append(row)
        return found

    def get(self, zone_id: str, name: str, rtype: str) -> RRsetRow | None:
        stmt = sa.select(RRsetRow).where(
            RRsetRow.zone_id == zone_id, RRsetRow.name == name, RRsetRow.type == rtype
        )
        return self.session.scalars(stmt).one_or_none()

    def at(self, zone_id: str, name: str) -> Sequence[RRsetRow]:
        """Every RRset of the zone at `name` (canonical, with the trailing dot)."""
        stmt = sa.select(RRsetRow).where(RRsetRow.zone_id == zone_id, RRsetRow.name == name)
        return self.session.scalars(stmt.order_by(RRsetRow.type)).all()

    def managed(self, zone_id: str) -> Sequence[RRsetRow]:
        """The zone's RRsets the platform keeps for bound domains."""
        stmt = sa.select(RRsetRow).where(
            RRsetRow.zone_id == zone_id, RRsetRow.managed_by.is_not(None)
        )
        return self.session.scalars(stmt.order_by(RRsetRow.name, RRsetRow.type)).all()

    def kept_for(self, domain: str) -> Sequence[RRsetRow]:
        """The RRsets the platform keeps for custom domain `domain`, in any zone."""
        stmt = sa.select(RRsetRow).where(RRsetRow.managed_by == domain)
        return self.session.scalars(stmt.order_by(RRsetRow.zone_id, RRsetRow.type)).all()

    def put(self, zone_id: str, item: RRset, managed_by: str | None = None) -> None:
        row = self.get(zone_id, item.name, item.type)
        if row is None:
            self.session.add(
                RRsetRow(
                    zone_id=zone_id,
                    name=item.name,
                    type=item.type,
                    ttl=item.ttl,
                    contents=list(item.contents),
                    managed_by=managed_by,
                )
            )
        else:
            row.ttl = item.ttl
            row.contents = list(item.contents)
            row.managed_by = managed_by

    def remove(self, zone_id: str, name: str, rtype: str) -> None:
        row = self.get(zone_id, name, rtype)
        if row is not None:
            self.session.delete(row)

    def remove_all(self, zone_id: str) -> None:
        self.session.execute(sa.delete(RRsetRow).where(RRsetRow.zone_id == zone_id))


def as_rrset(row: RRsetRow) -> RRset:
    return RRset(row.name, row.type, row.ttl, tuple(row.contents))


def zones(uow: UnitOfWork) -> ZoneRepository:
    return uow.repo(ZoneRepository)


def records(uow: UnitOfWork) -> RRsetRepository:
    return uow.repo(RRsetRepository)


def load_zone(uow: UnitOfWork, op: OperationRow) -> ZoneRow:
    zone = zones(uow).get(op.target_id)
    if zone is None:
        raise NotFoundError(f"zone {op.target_id} is gone from the state database")
    return zone
