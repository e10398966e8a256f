"""The operator's routes of the tenant kind: plans and tenant-scoped API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from hostplane.api.deps import ActorDep, ServicesDep, errors
from hostplane.kinds.tenant import access, views
from hostplane.kinds.tenant.model import Limits
from hostplane.kinds.tenant.repo import plans, tenants, tokens

plan_router = APIRouter(prefix="/v1/plans", tags=["tenants"])
token_router = APIRouter(prefix="/v1/tokens", tags=["tenants"])
ERRORS = errors(401, 403, 404, 409, 422)
PlanName = Annotated[str, Path(min_length=1, max_length=32, pattern=views.PLAN_PATTERN)]


def _limits(body: views.PlanBody) -> Limits:
    return Limits(
        sites=body.sites,
        databases=body.databases,
        caches=body.caches,
        disk_mb=body.disk_mb,
        php_workers=body.php_workers,
        zones=body.zones,
        cache_memory_mb=body.cache_memory_mb,
    )


@plan_router.get("", responses=ERRORS)
def list_plans(services: ServicesDep, actor: ActorDep) -> views.PlanList:
    with services.store.unit_of_work() as uow:
        return views.PlanList(
            items=[views.plan_view(p, tenants(uow).on_plan(p.id)) for p in plans(uow).all()]
        )


@plan_router.post("", status_code=201, responses=ERRORS)
def create_plan(body: views.PlanBody, services: ServicesDep, actor: ActorDep) -> views.PlanView:
    row = access.save_plan(services, name=body.name, limits=_limits(body), create=True)
    return views.plan_view(row, 0)


@plan_router.put("/{name}", responses=ERRORS)
def update_plan(
    name: PlanName, body: views.PlanBody, services: ServicesDep, actor: ActorDep
) -> views.PlanView:
    row = access.save_plan(services, name=name, limits=_limits(body), create=False)
    with services.store.unit_of_work() as uow:
        return views.plan_view(row, tenants(uow).on_plan(row.id))


@token_router.post("", status_code=201, responses=ERRORS)
def create_token(
    body: views.TokenCreate, services: ServicesDep, actor: ActorDep
) -> views.TokenIssued:
    """A token that sees and changes only the tenant's resources; its secret shown once."""
    row, secret, tenant = access.issue_token(
        services, tenant=body.tenant, name=body.name, actor=actor
    )
    return views.TokenIssued(**views.token_view(row, tenant).model_dump(), token=secret)


@token_router.get("", responses=ERRORS)
def list_tokens(
    services: ServicesDep,
    actor: ActorDep,
    tenant: Annotated[str | None, Query(max_length=63)] = None,
) -> views.TokenList:
    with services.store.unit_of_work() as uow:
        scope = tenants(uow).live_or_404(tenant).id if tenant else None
        rows = tokens(uow).listing(scope)
        names = tenants(uow).names(sorted({r.tenant_id for r in rows}))
        return views.TokenList(
            items=[views.token_view(r, names.get(r.tenant_id, "?")) for r in rows]
        )


@token_router.delete("/{token_id}", status_code=204, responses=ERRORS)
def revoke_token(
    token_id: Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[0-9a-f]+$")],
    services: ServicesDep,
    actor: ActorDep,
) -> Response:
    access.revoke_token(services, token_id=token_id)
    return Response(status_code=204)
