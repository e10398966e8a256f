"""What sites contribute to their tenant: what it owns, the cascade delete of its sites
(each through the site's own undo steps), and suspension (the edge answers its sites with a
'suspended' page, their PHP-FPM masters stop; unsuspended, both come back as they were)."""

from __future__ import annotations

import structlog

from hostplane.kernel.lifecycle import ResourceStatus
from hostplane.kernel.operations import refuse_if_busy
from hostplane.kernel.outcome import Outcome
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kernel.transition import transition
from hostplane.kinds.site import tenant_database
from hostplane.kinds.site.edge import apply_sites
from hostplane.kinds.site.lifecycle import snapshot
from hostplane.kinds.site.model import (
    KIND,
    LIFECYCLE,
    SiteStatus,
    destroy_plan,
    site_spec,
)
from hostplane.kinds.site.repo import sites
from hostplane.kinds.site.steps import BY_NAME
from hostplane.kinds.tenant.table import TenantRow
from hostplane.providers.runtime import RuntimeKind, SiteType
from hostplane.services import Services

log = structlog.get_logger(__name__)


def owned(uow: UnitOfWork, tenant: TenantRow) -> dict[str, list[str]]:
    return {"sites": [s.name for s in sites(uow).of_tenant(tenant.id)]}


def before_teardown(uow: UnitOfWork, tenant: TenantRow, actor: str) -> list[str]:
    """A cascade delete waits (409) while one of the tenant's sites has an operation."""
    for site in sites(uow).of_tenant(tenant.id):
        refuse_if_busy(uow, KIND, site.name)
        sites(uow).touch(site)
    return []


def teardown(services: Services, tenant: TenantRow, actor: str) -> bool:
    """Every live site of the tenant through DESTROYING to DESTROYED, each undone like a site
    destroy (its domains first, then every step of its provision in reverse) and audited."""
    with services.store.unit_of_work() as uow:
        ids = [s.id for s in sites(uow).of_tenant(tenant.id)]
    for site_id in ids:
        _destroy(services, site_id, actor)
    return bool(ids)


def _destroy(services: Services, site_id: str, actor: str) -> None:
    with services.store.unit_of_work() as uow:
        site = sites(uow).get(site_id)
        assert site is not None
        if site.status not in (SiteStatus.DESTROYING, SiteStatus.DESTROYED):
            if site.status not in (SiteStatus.ACTIVE, SiteStatus.FAILED):
                transition(
                    uow, LIFECYCLE, site, SiteStatus.FAILED, reason="tenant deleted", actor=actor
                )
            transition(
                uow, LIFECYCLE, site, SiteStatus.DESTROYING, reason="tenant deleted", actor=actor
            )
        tenant_database.follow(uow, site, ResourceStatus.DELETING, "tenant deleted", actor)
        spec = site_spec(site, services.settings)
    for name in destroy_plan(spec):
        undo = BY_NAME[name].undo
        if undo is not None:
            undo(services, site, {})
    with services.store.unit_of_work() as uow:
        row = sites(uow).get(site_id)
        if row is None or row.status == SiteStatus.DESTROYED:
            return
        transition(uow, LIFECYCLE, row, SiteStatus.DESTROYED, reason="tenant deleted", actor=actor)
        tenant_database.follow(
            uow, row, ResourceStatus.DELETED, f"site {row.name} destroyed: tenant deleted", actor
        )
        uow.audit.record(
            actor=actor,
            action="site.destroyed",
            target_kind=KIND,
            target_name=row.name,
            decision="allowed",
            reason=f"its tenant {row.tenant_name} was deleted",
            snapshot=snapshot(row),
            scope=row.tenant_id,
        )


def follow_suspension(services: Services, tenant: TenantRow) -> Outcome:
    """The tenant's sites as its desired suspension says: their routes at the edge (they
    answer 503 'suspended', or serve again), their local PHP-FPM masters stopped or started
    again (only those of ACTIVE sites: what was running comes back)."""
    with services.store.unit_of_work() as uow:
        every = sites(uow).of_tenant(tenant.id)
        rows = [s for s in every if s.status == SiteStatus.ACTIVE]
        specs = [site_spec(s, services.settings) for s in rows]
    suspended = tenant.suspension is not None
    changed = apply_sites(services, every).changed  # the tenant's: no other route is read
    for spec in specs:
        if spec.runtime is not RuntimeKind.LOCAL or spec.type is SiteType.STATIC:
            continue
        runtime = services.runtime(spec.runtime)
        outcome = runtime.remove_app(spec) if suspended else runtime.ensure_app(spec)
        changed |= outcome.changed
    log.info("tenant.sites_followed", tenant=tenant.name, suspended=suspended, sites=len(specs))
    return Outcome.UPDATED if changed else Outcome.UNCHANGED
