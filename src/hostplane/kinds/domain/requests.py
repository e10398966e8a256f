"""Recording a custom domain's intent: the domain and its operation in one transaction.

A domain has at most one operation at a time (its own slot). Requests on a domain and on its
site touch the site row, so a site destroy and a domain add racing each other cannot both
commit.
"""

from __future__ import annotations

from collections.abc import Sequence

from hostplane.errors import ConflictError, NotFoundError, ValidationError
from hostplane.kernel.lifecycle import OperationStatus
from hostplane.kernel.operations import Submitted, new_operation, refuse_if_busy, slot
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kernel.transition import record_created, transition
from hostplane.kinds.domain.lifecycle import snapshot
from hostplane.kinds.domain.model import (
    KIND,
    LIFECYCLE,
    DomainOp,
    DomainStatus,
    is_wildcard,
    named_domain,
    normalize_domain,
    registrable_domain,
)
from hostplane.kinds.domain.repo import domains
from hostplane.kinds.domain.steps import steps_of_others
from hostplane.kinds.domain.table import DomainRow
from hostplane.kinds.site.model import KIND as SITE
from hostplane.kinds.site.model import SiteStatus
from hostplane.kinds.site.repo import sites
from hostplane.kinds.site.table import SiteRow
from hostplane.services import Services


def new_domain_operation(
    uow: UnitOfWork, domain: DomainRow, kind: str, actor: str, site: str, **options: object
) -> Submitted:
    owner = sites(uow).get(domain.site_id)
    op = new_operation(
        uow,
        kind=kind,
        target_kind=KIND,
        target_name=domain.name,
        target_id=domain.id,
        actor=actor,
        options={"site": site, **options},
        scope=owner.tenant_id if owner else None,
    )
    return Submitted(op.id, op.kind, domain.name)


def refuse_if_site_busy(uow: UnitOfWork, site: SiteRow) -> None:
    refuse_if_busy(uow, SITE, site.name)


def live_domain_of(uow: UnitOfWork, site: SiteRow, name: str) -> DomainRow:
    row = domains(uow).get_live(name)
    if row is None or row.site_id != site.id:
        raise NotFoundError(f"site {site.name!r} has no domain {name}")
    return row


def supersede_pending_adds(uow: UnitOfWork, rows: Sequence[DomainRow], actor: str) -> list[str]:
    """Stop domain additions that are only waiting for DNS, so that a removal can go ahead;
    refuse (409) while any other domain operation is at work."""
    cancelled = []
    for domain in rows:
        active = uow.operations.active_for(slot(KIND, domain.name))
        if active is None:
            continue
        if active.kind == DomainOp.ADD and domain.status == DomainStatus.PENDING:
            uow.operations.finish(
                active, OperationStatus.FAILED, f"superseded: removal requested by {actor}"
            )
            cancelled.append(active.id)
            continue
        raise ConflictError(
            f"domain {domain.name} has operation {active.id} ({active.kind}) at work "
            f"(domain is {domain.status}): wait for it to finish"
        )
    return cancelled


def before_site_teardown(uow: UnitOfWork, site: SiteRow, actor: str) -> list[str]:
    """A site destroy stops its domains' additions that only wait for DNS; other domain
    work makes it wait (409)."""
    return supersede_pending_adds(uow, list(domains(uow).for_site(site.id)), actor)


def refuse_if_another_tenants(
    uow: UnitOfWork, site: SiteRow, name: str, registrable: str, scope: str | None
) -> None:
    """A registrable domain and every name below it belong to one tenant: the first to bind
    one of them (409 naming the rule; a tenant's token is not told who holds it)."""
    holder = domains(uow).held_below(registrable, site.tenant_id)
    if holder is None:
        return
    owner = sites(uow).get(holder.site_id)
    whose = (
        "another tenant"
        if scope is not None or owner is None
        else f"tenant {owner.tenant_name!r} (its site {owner.name!r} has {holder.name})"
    )
    raise ConflictError(
        f"domain {name} is below {registrable}, which belongs to {whose}: a registrable "
        "domain and every name below it belong to one tenant"
    )


def add_domain(
    services: Services, *, site_name: str, domain: str, actor: str, scope: str | None = None
) -> Submitted:
    name = normalize_domain(domain, base_domain=services.settings.base_domain)
    registrable = registrable_domain(name)
    with services.store.unit_of_work() as uow:
        # Two tenants binding names below one registrable domain at once: one waits here.
        uow.lock(f"{KIND}.owner:{registrable}")
        site = sites(uow).live_or_404(site_name, scope)
        refuse_if_another_tenants(uow, site, name, registrable, scope)
        if is_wildcard(name) and not steps_of_others(services, uow, name, site.tenant_id, False):
            raise ValidationError(
                f"{name} is a wildcard: one is bound only inside a zone the platform hosts for "
                f"the site's tenant (its records and its DNS-01 certificate are written there): "
                f"create the zone first (hostctl zone create {registrable})"
            )
        existing = domains(uow).get_live(name)
        if existing is not None and existing.site_id != site.id:
            owner = sites(uow).get(existing.site_id)
            raise ConflictError(
                f"domain {name} already belongs to site {owner.name if owner else '?'!r}: "
                "remove it there first"
            )
        if existing is not None and existing.status != DomainStatus.FAILED:
            if existing.status == DomainStatus.REMOVING:
                raise ConflictError(f"domain {name} is being removed: add it again afterwards")
            last = uow.operations.latest_for(existing.id)
            return Submitted(last.id if last else None, last.kind if last else None, name, False)
        if site.status != SiteStatus.ACTIVE:
            raise ConflictError(
                f"site {site.name!r} is {site.status}: domains are added to ACTIVE sites"
            )
        refuse_if_site_busy(uow, site)
        sites(uow).touch(site)
        if existing is not None:
            row = existing
            row.last_error = None
            transition(uow, LIFECYCLE, row, DomainStatus.PENDING, reason="added again", actor=actor)
        else:
            row = domains(uow).add(
                DomainRow(site_id=site.id, name=name, status=DomainStatus.PENDING)
            )
            uow.flush()
        sub = new_domain_operation(uow, row, DomainOp.ADD, actor, site.name)
        if existing is None:
            record_created(
                uow, LIFECYCLE, row, reason="requested", actor=actor, operation_id=sub.operation_id
            )
        return sub


def remove_domain(
    services: Services, *, site_name: str, domain: str, actor: str, scope: str | None = None
) -> Submitted:
    name = named_domain(domain, base_domain=services.settings.base_domain)
    with services.store.unit_of_work() as uow:
        site = sites(uow).live_or_404(site_name, scope)
        row = live_domain_of(uow, site, name)
        active = uow.operations.active_for(slot(KIND, name))
        if row.status == DomainStatus.REMOVING and active is not None:
            return Submitted(active.id, active.kind, name, False)
        refuse_if_site_busy(uow, site)
        cancel = supersede_pending_adds(uow, [row], actor)
        sites(uow).touch(site)
        sub = new_domain_operation(uow, row, DomainOp.REMOVE, actor, site.name)
        if row.status != DomainStatus.REMOVING:
            transition(
                uow,
                LIFECYCLE,
                row,
                DomainStatus.REMOVING,
                reason="removal requested",
                actor=actor,
                operation_id=sub.operation_id,
            )
        uow.audit.record(
            actor=actor,
            action="domain.remove",
            target_kind=KIND,
            target_name=name,
            decision="allowed",
            reason=f"requested for site {site.name}",
            operation_id=sub.operation_id,
            snapshot=snapshot(row, site.name),
            scope=site.tenant_id,
        )
        return Submitted(sub.operation_id, sub.kind, name, cancel=tuple(cancel))
