"""Tenants: create, list, show, suspend, unsuspend, delete, retry; their SSH keys and plan."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from hostplane.api.deps import (
    ActorDep,
    CallerDep,
    IdempotencyKey,
    ServicesDep,
    SubmitterDep,
    errors,
    retrying,
    submit,
    submitted_ref,
)
from hostplane.errors import HostplaneError
from hostplane.kernel.operations import Submitted
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kinds.tenant import access, requests, views
from hostplane.kinds.tenant.model import KIND, Limit, over_limits
from hostplane.kinds.tenant.repo import keys, limits_of, plans, tenants
from hostplane.kinds.tenant.table import PlanRow, TenantRow
from hostplane.services import Services

router = APIRouter(prefix="/v1/tenants", tags=["tenants"])

TenantName = Annotated[str, Path(min_length=1, max_length=63, pattern=views.LABEL_PATTERN)]
KeyId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9a-f]+$")]
ERRORS = errors(401, 403, 404, 409, 422)


def _accepted(
    response: Response, services: Services, submitter: SubmitterDep, sub: Submitted
) -> views.Accepted:
    submit(submitter, sub)
    assert sub.operation_id is not None
    ref = submitted_ref(services, sub)
    response.headers["Location"] = ref.url
    return views.Accepted(operation=ref, tenant=sub.target)


@router.post("", status_code=202, responses=ERRORS)
def create_tenant(
    body: views.TenantCreate,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> views.Accepted:
    def record() -> Submitted:
        return requests.create_tenant(
            services, name=body.name, plan=body.plan, actor=actor, idempotency_key=idempotency_key
        )

    return _accepted(response, services, submitter, retrying(idempotency_key, record))


@router.get("", responses=ERRORS)
def list_tenants(
    services: ServicesDep,
    caller: CallerDep,
    status: Annotated[str | None, Query(max_length=16, pattern=r"^[A-Z]+$")] = None,
    after: Annotated[str | None, Query(max_length=63)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> views.TenantPage:
    """One page, by name; a tenant's token sees only its own tenant."""
    with services.store.unit_of_work() as uow:
        rows = tenants(uow).page(status=status, after=after, limit=limit + 1, scope=caller.scope)
        names = {p.id: p.name for p in plans(uow).all()}
        items = [views.tenant_summary(t, names.get(t.plan_id, "?")) for t in rows[:limit]]
    more = len(rows) > limit
    return views.TenantPage(items=items, next=items[-1].name if more and items else None)


def usage(uow: UnitOfWork, tenant: TenantRow, plan: PlanRow) -> dict[str, views.Usage]:
    """Each limit of its plan against what it uses (None: nothing measures it yet)."""
    owns = requests.owned(uow, tenant)
    used: dict[str, int | None] = {k: len(v) for k, v in owns.items() if k in set(Limit)}
    used[Limit.DISK_MB] = tenant.disk_used_mb
    used.update(requests.measured(uow, tenant))
    limits = limits_of(plan)
    return {
        limit.value: views.Usage(
            limit=limits.of(limit),
            used=used.get(limit.value),
            over=(used.get(limit.value) or 0) > limits.of(limit),
        )
        for limit in Limit
    }


@router.get("/{name}", responses=ERRORS)
def show_tenant(name: TenantName, services: ServicesDep, caller: CallerDep) -> views.TenantDetail:
    """Status, plan, usage against its limits, what it owns, recent events."""
    with services.store.unit_of_work() as uow:
        tenant = tenants(uow).live_or_404(name, caller.scope)
        plan = plans(uow).get(tenant.plan_id)
        assert plan is not None
        home = services.accounts.home(tenant.name) if services.accounts else None
        return views.tenant_detail(
            tenant,
            plan,
            str(home) if home else None,
            usage(uow, tenant, plan),
            requests.owned(uow, tenant),
            list(uow.events.recent(KIND, tenant.id, limit=20)),
            uow.operations.latest_for(tenant.id),
        )


def _refusals_audited(services: Services, actor: str, action: str, name: str, call):  # type: ignore[no-untyped-def]
    try:
        return call()
    except HostplaneError as exc:
        requests.audit_refusal(services, actor=actor, action=action, name=name, reason=str(exc))
        raise


@router.post("/{name}/suspend", status_code=202, responses=ERRORS)
def suspend_tenant(
    name: TenantName,
    body: views.Suspension,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    actor: ActorDep,
) -> views.Accepted:
    """Its sites and domains answer 503 'suspended', its PHP stops, its SFTP is refused."""
    sub = _refusals_audited(
        services,
        actor,
        "tenant.suspend",
        name,
        lambda: requests.suspend_tenant(services, name=name, reason=body.reason, actor=actor),
    )
    return _accepted(response, services, submitter, sub)


@router.post("/{name}/unsuspend", status_code=202, responses=ERRORS)
def unsuspend_tenant(
    name: TenantName,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    actor: ActorDep,
    body: views.Unsuspension | None = None,
) -> views.Accepted:
    reason = body.reason if body else "unsuspended"
    sub = requests.unsuspend_tenant(services, name=name, reason=reason, actor=actor)
    return _accepted(response, services, submitter, sub)


@router.delete("/{name}", status_code=202, responses=ERRORS)
def delete_tenant(
    name: TenantName,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    actor: ActorDep,
    cascade: bool = False,
) -> views.Accepted:
    """409 listing what it still owns, unless cascade=true (then those go first)."""
    sub = _refusals_audited(
        services,
        actor,
        "tenant.delete",
        name,
        lambda: requests.delete_tenant(services, name=name, cascade=cascade, actor=actor),
    )
    return _accepted(response, services, submitter, sub)


@router.post("/{name}/retry", status_code=202, responses=ERRORS)
def retry_tenant(
    name: TenantName,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    actor: ActorDep,
) -> views.Accepted:
    sub = requests.retry_tenant(services, name=name, actor=actor)
    return _accepted(response, services, submitter, sub)


@router.put("/{name}/plan", responses=ERRORS)
def change_plan(
    name: TenantName, body: views.PlanChange, services: ServicesDep, actor: ActorDep
) -> views.TenantSummary:
    access.move_to_plan(services, tenant=name, plan=body.plan)
    with services.store.unit_of_work() as uow:
        tenant = tenants(uow).live_or_404(name)
        return views.tenant_summary(tenant, body.plan)


@router.post("/{name}/ssh-keys", status_code=201, responses=ERRORS)
def add_key(
    name: TenantName,
    body: views.KeyAdd,
    response: Response,
    services: ServicesDep,
    caller: CallerDep,
) -> views.KeyView:
    """A public key that may log in over SFTP as the tenant (200 when it has it already)."""
    row, new = access.add_key(
        services, tenant=name, public_key=body.public_key, actor=caller.actor, scope=caller.scope
    )
    if not new:
        response.status_code = 200
    return views.key_view(row)


@router.get("/{name}/ssh-keys", responses=ERRORS)
def list_keys(name: TenantName, services: ServicesDep, caller: CallerDep) -> views.KeyList:
    with services.store.unit_of_work() as uow:
        tenant = tenants(uow).live_or_404(name, caller.scope)
        return views.KeyList(items=[views.key_view(k) for k in keys(uow).of(tenant.id)])


@router.delete("/{name}/ssh-keys/{key_id}", status_code=204, responses=ERRORS)
def remove_key(
    name: TenantName, key_id: KeyId, services: ServicesDep, caller: CallerDep
) -> Response:
    access.remove_key(services, tenant=name, key_id=key_id, actor=caller.actor, scope=caller.scope)
    return Response(status_code=204)


def over(uow: UnitOfWork, tenant: TenantRow) -> list[str]:
    plan = plans(uow).get(tenant.plan_id)
    assert plan is not None
    used = {k: v.used for k, v in usage(uow, tenant, plan).items() if v.used is not None}
    return over_limits(limits_of(plan), used)
