"""Sites: create, list, show, destroy, retry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response

from hostplane.api import schemas, views
from hostplane.api.deps import ActorDep, ServicesDep, SubmitterDep
from hostplane.domain.errors import ConflictError, HostplaneError, NotFoundError
from hostplane.naming import site_hostname
from hostplane.observability import OPERATIONS
from hostplane.providers.wordpress import ADMIN_USER
from hostplane.workflows import requests
from hostplane.workflows.services import Services

router = APIRouter(prefix="/v1/sites", tags=["sites"])

SiteName = Annotated[str, Path(min_length=1, max_length=63)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": schemas.ErrorBody} for code in (401, 404, 409, 422)
}


def _accepted(
    response: Response, services: Services, submitter: SubmitterDep, sub: requests.Submitted
) -> schemas.Accepted:
    if not sub.replayed:
        for superseded in sub.cancel:
            submitter.cancel(superseded)
        submitter.submit(sub.operation_id, sub.kind)
        OPERATIONS.labels(sub.kind).inc()
    with services.store.unit_of_work() as uow:
        op = uow.operations.get(sub.operation_id)
        assert op is not None
        ref = views.operation_ref(op)
    response.headers["Location"] = ref.url
    admin = None
    if sub.admin_password is not None:
        hostname = site_hostname(sub.site_name, services.settings.base_domain)
        admin = schemas.AdminCredentials(
            user=ADMIN_USER,
            password=sub.admin_password,
            login_url=f"{services.settings.site_url(hostname)}/wp-login.php",
        )
    return schemas.Accepted(operation=ref, site=sub.site_name, admin=admin)


@router.post("", status_code=202, responses=ERRORS)
def create_site(
    body: schemas.SiteCreate,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> schemas.Accepted:
    try:
        sub = requests.create_site(
            services,
            name=body.name,
            type=body.type,
            runtime=body.runtime,
            admin_email=body.admin_email,
            actor=actor,
            idempotency_key=idempotency_key,
        )
    except ConflictError:
        # Two requests with one Idempotency-Key racing: the loser returns the winner's operation.
        if idempotency_key is None:
            raise
        sub = requests.create_site(
            services,
            name=body.name,
            type=body.type,
            runtime=body.runtime,
            admin_email=body.admin_email,
            actor=actor,
            idempotency_key=idempotency_key,
        )
    return _accepted(response, services, submitter, sub)


@router.get("", responses=ERRORS)
def list_sites(
    services: ServicesDep,
    actor: ActorDep,
    status: schemas.SiteStatusName | None = None,
    after: Annotated[str | None, Query(max_length=63)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> schemas.SitePage:
    with services.store.unit_of_work() as uow:
        rows = uow.sites.page(status=status, after=after, limit=limit + 1)
        items = [views.site_summary(r) for r in rows[:limit]]
    more = len(rows) > limit
    return schemas.SitePage(items=items, next=items[-1].name if more and items else None)


@router.get("/{name}", responses=ERRORS)
def show_site(name: SiteName, services: ServicesDep, actor: ActorDep) -> schemas.SiteDetail:
    with services.store.unit_of_work() as uow:
        site = uow.sites.get_latest(name)
        if site is None:
            raise NotFoundError(f"no site is named {name!r}")
        domains = list(uow.domains.for_site(site.id, live_only=site.status != "DESTROYED"))
        events = list(uow.events.recent("site", site.id, limit=20))
        op = uow.operations.latest_for(site.id)
        hostname = site_hostname(site.name, services.settings.base_domain)
        return views.site_detail(site, hostname, domains, events, op)


@router.delete("/{name}", status_code=202, responses=ERRORS)
def destroy_site(
    name: SiteName,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    actor: ActorDep,
    keep_data: bool = False,
    idempotency_key: IdempotencyKey = None,
) -> schemas.Accepted:
    try:
        sub = requests.destroy_site(
            services,
            name=name,
            keep_data=keep_data,
            actor=actor,
            idempotency_key=idempotency_key,
        )
    except HostplaneError as exc:
        requests.audit_refusal(
            services, actor=actor, action="site.destroy", name=name, reason=str(exc)
        )
        raise
    return _accepted(response, services, submitter, sub)


@router.post("/{name}/retry", status_code=202, responses=ERRORS)
def retry_site(
    name: SiteName,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    actor: ActorDep,
) -> schemas.Accepted:
    sub = requests.retry_site(services, name=name, actor=actor)
    return _accepted(response, services, submitter, sub)
