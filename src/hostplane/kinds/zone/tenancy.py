"""What zones contribute to their tenant: what it owns, and the cascade delete of its zones
(each removed from PowerDNS by the zone's own undo step, then DELETED and audited). A
suspended tenant's zones keep being answered: DNS is not a service the suspension stops."""

from __future__ import annotations

from hostplane.kernel.operations import refuse_if_busy
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kernel.transition import transition
from hostplane.kinds.tenant.table import TenantRow
from hostplane.kinds.zone.lifecycle import audit
from hostplane.kinds.zone.model import KIND, LIFECYCLE, ZoneStatus
from hostplane.kinds.zone.repo import records, zones
from hostplane.kinds.zone.steps import provider
from hostplane.services import Services


def owned(uow: UnitOfWork, tenant: TenantRow) -> dict[str, list[str]]:
    return {"zones": [z.name for z in zones(uow).of_tenant(tenant.id)]}


def before_teardown(uow: UnitOfWork, tenant: TenantRow, actor: str) -> list[str]:
    """A cascade delete waits (409) while one of the tenant's zones has an operation."""
    for zone in zones(uow).of_tenant(tenant.id):
        refuse_if_busy(uow, KIND, zone.name)
        zones(uow).touch(zone)
    return []


def teardown(services: Services, tenant: TenantRow, actor: str) -> bool:
    """Every live zone of the tenant through DELETING to DELETED, removed from PowerDNS."""
    with services.store.unit_of_work() as uow:
        ids = [z.id for z in zones(uow).of_tenant(tenant.id)]
    for zone_id in ids:
        _delete(services, zone_id, tenant.name, actor)
    return bool(ids)


def _delete(services: Services, zone_id: str, tenant: str, actor: str) -> None:
    reason = f"tenant {tenant} deleted"
    with services.store.unit_of_work() as uow:
        zone = zones(uow).get(zone_id)
        assert zone is not None
        if zone.status not in (ZoneStatus.DELETING, ZoneStatus.DELETED):
            if zone.status not in (ZoneStatus.ACTIVE, ZoneStatus.FAILED):
                transition(uow, LIFECYCLE, zone, ZoneStatus.FAILED, reason=reason, actor=actor)
            transition(uow, LIFECYCLE, zone, ZoneStatus.DELETING, reason=reason, actor=actor)
        name = zone.name
    provider(services).remove_zone(name)
    with services.store.unit_of_work() as uow:
        row = zones(uow).get(zone_id)
        if row is None or row.status == ZoneStatus.DELETED:
            return
        transition(uow, LIFECYCLE, row, ZoneStatus.DELETED, reason=reason, actor=actor)
        audit(uow, actor, row, "zone.deleted", f"its tenant {tenant} was deleted", None)
        records(uow).remove_all(row.id)
