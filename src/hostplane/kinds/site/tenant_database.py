"""A WordPress site's database as one of its tenant's databases: what the site tells the kind
that keeps that record (tenant.SITE_DATABASE_*), never importing it. The site claims it when
it is created (counted against the plan), reports what its steps did with it, and releases
it in the unit of work it leaves in; before its database is dropped, the tenant's own
accounts on it are removed by their kind."""

from __future__ import annotations

from hostplane import naming
from hostplane.kernel import runtime
from hostplane.kernel.lifecycle import ResourceStatus
from hostplane.kernel.outcome import Outcome
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kinds.site.model import SiteFields
from hostplane.kinds.tenant.model import (
    SITE_DATABASE_CLAIM,
    SITE_DATABASE_RELEASE,
    SITE_DATABASE_STATUS,
)
from hostplane.kinds.tenant.table import TenantRow
from hostplane.providers.runtime import SiteType
from hostplane.services import Services


def claim(uow: UnitOfWork, tenant: TenantRow, site: str, site_type: str, actor: str) -> None:
    """A WordPress site's database counted as one of its tenant's (409 at the plan's limit)."""
    if site_type != SiteType.WORDPRESS:
        return
    for point in runtime.registry().contributions(SITE_DATABASE_CLAIM):
        point(uow, tenant, site, naming.site_database(site), actor)


def follow(
    uow: UnitOfWork,
    site: SiteFields,
    status: ResourceStatus,
    reason: str,
    actor: str,
    operation_id: str | None = None,
) -> None:
    """Its database's record moved to `status`, in the caller's unit of work."""
    if site.type != SiteType.WORDPRESS:
        return
    name = naming.site_database(site.name)
    for point in runtime.registry().contributions(SITE_DATABASE_STATUS):
        point(uow, name, status, reason, actor, operation_id)


def release(services: Services, site: SiteFields, actor: str) -> Outcome:
    """The accounts the tenant added on the site's database removed (before it is dropped)."""
    name = naming.site_database(site.name)
    outcomes = [
        point(services, name, actor)
        for point in runtime.registry().contributions(SITE_DATABASE_RELEASE)
    ]
    return Outcome.DELETED if Outcome.DELETED in outcomes else Outcome.ABSENT
