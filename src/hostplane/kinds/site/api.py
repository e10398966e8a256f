"""Sites: create, list, show, destroy, retry; and the edge they are served by."""

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
from hostplane.api.schemas import Caller
from hostplane.errors import HostplaneError, NotFoundError
from hostplane.kernel import runtime
from hostplane.kernel.operations import Submitted
from hostplane.kinds.site import requests, views
from hostplane.kinds.site.edge import desired_state, regenerate_edge
from hostplane.kinds.site.model import KIND
from hostplane.kinds.site.repo import sites
from hostplane.kinds.tenant.repo import tenants
from hostplane.naming import site_hostname
from hostplane.providers.wordpress import ADMIN_USER
from hostplane.services import Services

router = APIRouter(prefix="/v1/sites", tags=["sites"])
edge_router = APIRouter(tags=["system"])

# Extension point: detail(uow, site) -> {"domains": [...]} adds a child kind's views to the
# site's detail.
DETAIL = "site.detail"

SiteName = Annotated[str, Path(min_length=1, max_length=63, pattern=views.LABEL_PATTERN)]
ERRORS = errors(401, 403, 404, 409, 422)


def _accepted(
    response: Response,
    services: Services,
    submitter: SubmitterDep,
    sub: Submitted,
    admin_password: str | None = None,
) -> views.Accepted:
    submit(submitter, sub)
    ref = submitted_ref(services, sub)
    response.headers["Location"] = ref.url
    admin = None
    if admin_password is not None:
        hostname = site_hostname(sub.target, services.settings.base_domain)
        admin = views.AdminCredentials(
            user=ADMIN_USER,
            password=admin_password,
            login_url=f"{services.settings.site_url(hostname)}/wp-login.php",
        )
    return views.Accepted(operation=ref, site=sub.target, admin=admin)


@router.post("", status_code=202, responses=ERRORS)
def create_site(
    body: views.SiteCreate,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> views.Accepted:
    """A site of `tenant` (a tenant's token: its own, named or not)."""
    tenant = tenant_of_request(caller, body.tenant)

    def record() -> requests.Created:
        return requests.create_site(
            services,
            name=body.name,
            type=body.type,
            runtime=body.runtime,
            admin_email=body.admin_email,
            actor=caller.actor,
            idempotency_key=idempotency_key,
            tenant=tenant,
        )

    created = retrying(idempotency_key, record)
    return _accepted(response, services, submitter, created.submitted, created.admin_password)


def tenant_of_request(caller: Caller, tenant: str | None) -> str | None:
    """The tenant a request names: a tenant's token may name only its own (another is not
    found), and names it when the request does not."""
    if caller.scope is None:
        return tenant
    if tenant is not None and tenant != caller.scope_name:
        raise NotFoundError(f"no tenant is named {tenant!r}")
    return caller.scope_name


@router.get("", responses=ERRORS)
def list_sites(
    services: ServicesDep,
    caller: CallerDep,
    status: views.SiteStatusName | None = None,
    after: Annotated[str | None, Query(max_length=63)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    tenant: Annotated[str | None, Query(max_length=63)] = None,
) -> views.SitePage:
    """One page by name; `tenant`: only that tenant's (a tenant's token sees only its own)."""
    with services.store.unit_of_work() as uow:
        wanted = tenant_of_request(caller, tenant)
        tenant_id = tenants(uow).live_or_404(wanted).id if wanted else None
        rows = sites(uow).page(status=status, after=after, limit=limit + 1, tenant_id=tenant_id)
        items = [views.site_summary(r) for r in rows[:limit]]
    more = len(rows) > limit
    return views.SitePage(items=items, next=items[-1].name if more and items else None)


@router.get("/{name}", responses=ERRORS)
def show_site(name: SiteName, services: ServicesDep, caller: CallerDep) -> views.SiteDetail:
    with services.store.unit_of_work() as uow:
        site = sites(uow).get_latest(name)
        if site is None or (caller.scope is not None and site.tenant_id != caller.scope):
            raise NotFoundError(f"no site is named {name!r}")
        children: dict[str, list[dict[str, object]]] = {}
        for detail in runtime.registry().contributions(DETAIL):
            children.update(detail(uow, site))
        events = list(uow.events.recent(KIND, site.id, limit=20))
        op = uow.operations.latest_for(site.id)
        hostname = site_hostname(site.name, services.settings.base_domain)
        return views.site_detail(site, hostname, children, events, op)


@router.delete("/{name}", status_code=202, responses=ERRORS)
def destroy_site(
    name: SiteName,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    caller: CallerDep,
    keep_data: bool = False,
    idempotency_key: IdempotencyKey = None,
) -> views.Accepted:
    try:
        sub = requests.destroy_site(
            services,
            name=name,
            keep_data=keep_data,
            actor=caller.actor,
            idempotency_key=idempotency_key,
            scope=caller.scope,
        )
    except HostplaneError as exc:
        requests.audit_refusal(
            services,
            actor=caller.actor,
            action="site.destroy",
            name=name,
            reason=str(exc),
            scope=caller.scope,
        )
        raise
    return _accepted(response, services, submitter, sub)


@router.post("/{name}/retry", status_code=202, responses=ERRORS)
def retry_site(
    name: SiteName,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    caller: CallerDep,
) -> views.Accepted:
    sub = requests.retry_site(services, name=name, actor=caller.actor, scope=caller.scope)
    return _accepted(response, services, submitter, sub)


@router.post("/{name}/reinstall", status_code=202, responses=ERRORS)
def reinstall_site(
    name: SiteName,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    caller: CallerDep,
) -> views.Accepted:
    """Install WordPress afresh on a site whose data was lost (in maintenance): 202 and a new
    admin password, shown once."""
    created = requests.reinstall_site(services, name=name, actor=caller.actor, scope=caller.scope)
    return _accepted(response, services, submitter, created.submitted, created.admin_password)


@edge_router.post("/v1/edge/regenerate", responses=errors(401, 503))
def regenerate(services: ServicesDep, actor: ActorDep) -> views.RegenerateResult:
    """Rebuild the whole edge config from the database alone and load it."""
    outcome = regenerate_edge(services)
    return views.RegenerateResult(outcome=outcome.value, routes=len(desired_state(services).routes))
