"""Recording a tenant's intent: the tenant and its operation in one transaction; and what its
children ask of it when they record theirs (the tenant a site goes into, the plan's limits).

Each function validates, writes, and returns what to submit; the caller (API) submits it to
the workflow engine after the commit.
"""

from __future__ import annotations

from functools import partial

from hostplane.errors import ConflictError
from hostplane.kernel import runtime
from hostplane.kernel.operations import (
    Submitted,
    refuse_if_busy,
    replay,
    request_hash,
    submit,
)
from hostplane.kernel.store.types import new_id
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kernel.transition import record_created
from hostplane.kinds.tenant.lifecycle import snapshot
from hostplane.kinds.tenant.model import (
    BEFORE_TEARDOWN,
    DELETABLE,
    KIND,
    LIFECYCLE,
    OWNED,
    USAGE,
    Limit,
    TenantOp,
    TenantStatus,
    check_limit,
    validate_plan_name,
    validate_tenant_name,
)
from hostplane.kinds.tenant.repo import limits_of, plans, tenants
from hostplane.kinds.tenant.table import TenantRow
from hostplane.services import Services

_operation = partial(submit, KIND)  # (uow, row, kind, actor, key, fingerprint, **options)


def create_tenant(
    services: Services, *, name: str, plan: str | None, actor: str, idempotency_key: str | None
) -> Submitted:
    name = validate_tenant_name(name)
    plan_name = validate_plan_name(plan) if plan else None
    fingerprint = request_hash({"op": "tenant-create", "name": name, "plan": plan_name})
    with services.store.unit_of_work() as uow:
        replayed = replay(uow, idempotency_key, fingerprint)
        if replayed:
            return replayed
        existing = tenants(uow).get_live(name)
        if existing is not None:
            raise ConflictError(f"tenant {name!r} already exists (status {existing.status})")
        refuse_if_busy(uow, KIND, name)
        row = plans(uow).by_name_or_404(plan_name) if plan_name else plans(uow).default()
        tenant = tenants(uow).add(TenantRow(name=name, status=TenantStatus.PENDING, plan=row))
        uow.flush()
        sub = _operation(uow, tenant, TenantOp.CREATE, actor, idempotency_key, fingerprint)
        record_created(
            uow, LIFECYCLE, tenant, reason="requested", actor=actor, operation_id=sub.operation_id
        )
        return sub


def tenant_for_site(
    uow: UnitOfWork, *, tenant: str | None, site: str, actor: str
) -> tuple[TenantRow, bool]:
    """The tenant a new site goes into, and whether it was made now: the one named (it must be
    ACTIVE), else the tenant named after the site, made for it on the default plan if there is
    none. That one is PROVISIONING until the site's files step has made its account (tenant.
    steps.made_for_site_ready), so a create that fails before leaves no account expected."""
    if tenant is not None:
        row = tenants(uow).live_or_404(tenant)
        if row.status != TenantStatus.ACTIVE:
            raise ConflictError(
                f"tenant {tenant!r} is {row.status}: sites are added to ACTIVE tenants only"
            )
        return row, False
    own = tenants(uow).get_live(site)
    if own is not None and _made_for_and_waiting(own, site):
        return own, False  # its first site failed (or went) before its account was made
    if own is not None:
        return tenant_for_site(uow, tenant=site, site=site, actor=actor)
    plan = plans(uow).default()
    row = tenants(uow).add(
        TenantRow(
            id=new_id(), name=site, status=TenantStatus.PROVISIONING, plan=plan, made_for=site
        )
    )
    record_created(
        uow, LIFECYCLE, row, reason=f"made for site {site}", actor=actor, operation_id=None
    )
    return row, True


def _made_for_and_waiting(tenant: TenantRow, site: str) -> bool:
    return tenant.made_for == site and tenant.status == TenantStatus.PROVISIONING


def check_usage(
    uow: UnitOfWork, tenant: TenantRow, limit: Limit, usage: int, more: int = 1
) -> None:
    """409 naming the limit and the usage when the tenant has no room for `more` (one more
    thing, or that many MB)."""
    plan = tenant.plan  # loaded with the tenant: no query of its own
    check_limit(tenant.name, plan.name, limits_of(plan), limit, usage, more)


def measured(uow: UnitOfWork, tenant: TenantRow) -> dict[str, int]:
    """The limits its children measure other than by counting what it owns (USAGE)."""
    found: dict[str, int] = {}
    for measure in runtime.registry().contributions(USAGE):
        found.update(measure(uow, tenant))
    return found


def owned(uow: UnitOfWork, tenant: TenantRow) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for contribute in runtime.registry().contributions(OWNED):
        found.update(contribute(uow, tenant))
    return found


def suspend_tenant(services: Services, *, name: str, reason: str, actor: str) -> Submitted:
    with services.store.unit_of_work() as uow:
        tenant = tenants(uow).live_or_404(name)
        refuse_if_busy(uow, KIND, name)
        if tenant.status != TenantStatus.ACTIVE:
            raise ConflictError(
                f"tenant {name!r} is {tenant.status}: only ACTIVE tenants are suspended"
            )
        tenants(uow).touch(tenant)
        sub = _operation(uow, tenant, TenantOp.SUSPEND, actor, reason=reason)
        _audit(uow, tenant, "tenant.suspend", actor, reason, sub)
        return sub


def unsuspend_tenant(services: Services, *, name: str, reason: str, actor: str) -> Submitted:
    with services.store.unit_of_work() as uow:
        tenant = tenants(uow).live_or_404(name)
        refuse_if_busy(uow, KIND, name)
        if tenant.status != TenantStatus.SUSPENDED:
            raise ConflictError(f"tenant {name!r} is {tenant.status}: it is not suspended")
        tenants(uow).touch(tenant)
        sub = _operation(
            uow, tenant, TenantOp.UNSUSPEND, actor, reason=reason, previous=tenant.suspension
        )
        _audit(uow, tenant, "tenant.unsuspend", actor, reason, sub)
        return sub


def delete_tenant(services: Services, *, name: str, cascade: bool, actor: str) -> Submitted:
    with services.store.unit_of_work() as uow:
        tenant = tenants(uow).live_or_404(name)
        refuse_if_busy(uow, KIND, name)
        if tenant.status not in DELETABLE and not _made_for_and_waiting(tenant, name):
            raise ConflictError(
                f"tenant {name!r} is {tenant.status}: only ACTIVE, SUSPENDED or FAILED tenants "
                "are deleted"
            )
        has = {kind: names for kind, names in owned(uow, tenant).items() if names}
        if has and not cascade:
            listing = "; ".join(
                f"{kind}: {', '.join(names)}" for kind, names in sorted(has.items())
            )
            raise ConflictError(
                f"tenant {name!r} still owns {listing}: remove them first, or delete with "
                "cascade=true to remove them with it"
            )
        cancel = [
            workflow_id
            for before in runtime.registry().contributions(BEFORE_TEARDOWN)
            for workflow_id in before(uow, tenant, actor)
        ]
        tenants(uow).touch(tenant)
        sub = _operation(uow, tenant, TenantOp.DELETE, actor, cascade=cascade)
        reason = f"tenant is {tenant.status}" + (f", owns {has}" if has else ", owns nothing")
        _audit(uow, tenant, "tenant.delete", actor, reason, sub, owned=has, cascade=cascade)
        return Submitted(sub.operation_id, sub.kind, name, cancel=tuple(cancel))


def retry_tenant(services: Services, *, name: str, actor: str) -> Submitted:
    with services.store.unit_of_work() as uow:
        tenant = tenants(uow).live_or_404(name)
        refuse_if_busy(uow, KIND, name)
        if tenant.status != TenantStatus.FAILED:
            raise ConflictError(
                f"tenant {name!r} is {tenant.status}: only FAILED tenants are retried"
            )
        last = uow.operations.latest_for(tenant.id)
        if last is not None and last.kind == TenantOp.DELETE:
            return _operation(uow, tenant, TenantOp.DELETE, actor, **dict(last.options or {}))
        return _operation(uow, tenant, TenantOp.RETRY, actor)


def _audit(
    uow: UnitOfWork,
    tenant: TenantRow,
    action: str,
    actor: str,
    reason: str,
    sub: Submitted,
    **extra: object,
) -> None:
    uow.audit.record(
        actor=actor,
        action=action,
        target_kind=KIND,
        target_name=tenant.name,
        decision="allowed",
        reason=reason,
        operation_id=sub.operation_id,
        snapshot={**snapshot(uow, tenant), **extra},
        scope=tenant.id,
    )


def audit_refusal(services: Services, *, actor: str, action: str, name: str, reason: str) -> None:
    """A refused suspension or deletion is audited in its own transaction."""
    with services.store.unit_of_work() as uow:
        tenant = tenants(uow).get_latest(name)
        uow.audit.record(
            actor=actor,
            action=action,
            target_kind=KIND,
            target_name=name,
            decision="refused",
            reason=reason,
            snapshot=snapshot(uow, tenant) if tenant else {},
            scope=tenant.id if tenant else None,
        )
