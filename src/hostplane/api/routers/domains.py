"""Custom domains of a site: add, remove, list, show, check DNS, see the served certificate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from hostplane.api import schemas, views
from hostplane.api.deps import ActorDep, ServicesDep, SubmitterDep
from hostplane.domain.dns import evaluate
from hostplane.domain.domains import display_name, normalize_domain
from hostplane.domain.errors import NotFoundError
from hostplane.observability import OPERATIONS
from hostplane.workflows import domain_requests
from hostplane.workflows.services import Services

router = APIRouter(prefix="/v1/sites/{name}/domains", tags=["domains"])

SiteName = Annotated[str, Path(min_length=1, max_length=63)]
DomainName = Annotated[str, Path(min_length=1, max_length=300)]
ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": schemas.ErrorBody} for code in (401, 404, 409, 422, 503)
}


def _view(services: Services, site_name: str, domain: str) -> schemas.DomainView:
    with services.store.unit_of_work() as uow:
        site = uow.sites.get_live(site_name)
        if site is None:
            raise NotFoundError(f"no live site is named {site_name!r}")
        rows = [d for d in uow.domains.for_site(site.id, live_only=False) if d.name == domain]
        # The live one, else the one removed last.
        rows.sort(key=lambda d: (d.status != "REMOVED", d.updated_at), reverse=True)
        row = rows[0] if rows else None
        if row is None:
            raise NotFoundError(f"site {site_name!r} has no domain {domain}")
        return views.domain_view(row, site.name, uow.operations.latest_for(row.id))


def _accepted(
    response: Response,
    services: Services,
    submitter: SubmitterDep,
    sub: domain_requests.DomainSubmitted,
) -> schemas.DomainAccepted:
    if sub.created and sub.operation_id and sub.kind:
        for superseded in sub.cancel:
            submitter.cancel(superseded)
        submitter.submit(sub.operation_id, sub.kind)
        OPERATIONS.labels(sub.kind).inc()
    else:
        response.status_code = 200
    view = _view(services, sub.site_name, sub.domain)
    if view.operation is not None:
        response.headers["Location"] = view.operation.url
    return schemas.DomainAccepted(domain=view, operation=view.operation if sub.created else None)


@router.post("", status_code=202, responses=ERRORS)
def add_domain(
    name: SiteName,
    body: schemas.DomainAdd,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    actor: ActorDep,
) -> schemas.DomainAccepted:
    """Attach a domain: 202 with the operation that proves its DNS and routes it; 200 with
    the domain as it is when the site already has it."""
    sub = domain_requests.add_domain(services, site_name=name, domain=body.domain, actor=actor)
    return _accepted(response, services, submitter, sub)


@router.delete("/{domain}", status_code=202, responses=ERRORS)
def remove_domain(
    name: SiteName,
    domain: DomainName,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    actor: ActorDep,
) -> schemas.DomainAccepted:
    sub = domain_requests.remove_domain(services, site_name=name, domain=domain, actor=actor)
    return _accepted(response, services, submitter, sub)


@router.get("", responses=ERRORS)
def list_domains(name: SiteName, services: ServicesDep, actor: ActorDep) -> schemas.DomainList:
    with services.store.unit_of_work() as uow:
        site = uow.sites.get_live(name)
        if site is None:
            raise NotFoundError(f"no live site is named {name!r}")
        rows = uow.domains.for_site(site.id)
        return schemas.DomainList(
            items=[views.domain_view(d, site.name, uow.operations.latest_for(d.id)) for d in rows]
        )


@router.get("/{domain}", responses=ERRORS)
def show_domain(
    name: SiteName, domain: DomainName, services: ServicesDep, actor: ActorDep
) -> schemas.DomainView:
    ascii_name = normalize_domain(domain, base_domain=services.settings.base_domain)
    return _view(services, name, ascii_name)


@router.put("/{domain}/certificate", status_code=202, responses=ERRORS)
def upload_certificate(
    name: SiteName,
    domain: DomainName,
    body: schemas.CertificateUpload,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    actor: ActorDep,
) -> schemas.DomainAccepted:
    """Install an operator's own certificate for the domain (checked first: chain, key,
    name, validity); ACME renewal leaves uploaded certificates alone."""
    sub = domain_requests.upload_certificate(
        services,
        site_name=name,
        domain=domain,
        certificate_pem=body.certificate,
        key_pem=body.key,
        actor=actor,
    )
    return _accepted(response, services, submitter, sub)


@router.get("/{domain}/certificate", responses=ERRORS)
def served_certificate(
    name: SiteName, domain: DomainName, services: ServicesDep, actor: ActorDep
) -> schemas.ServedCertificateView:
    """What the edge presents for the domain over HTTPS, against what the database holds."""
    ascii_name = normalize_domain(domain, base_domain=services.settings.base_domain)
    stored = _view(services, name, ascii_name).certificate
    expected = stored.fingerprint if stored else None
    served = services.edge.served_certificate(ascii_name)
    healthy = expected is not None and served == expected
    if healthy:
        explanation = "the edge presents the stored certificate"
    elif expected is None:
        explanation = "no certificate is stored for this domain"
    elif served is None:
        explanation = "the edge presents no certificate for this name"
    else:
        explanation = "the edge presents a different certificate than the stored one"
    return schemas.ServedCertificateView(
        domain=ascii_name,
        served_fingerprint=served,
        stored_fingerprint=expected,
        healthy=healthy,
        explanation=explanation,
    )


@router.get("/{domain}/dns", responses=ERRORS)
def check_dns(
    name: SiteName, domain: DomainName, services: ServicesDep, actor: ActorDep
) -> schemas.DnsCheckView:
    """What DNS says for `domain` against what the platform expects. Changes nothing."""
    with services.store.unit_of_work() as uow:
        if uow.sites.get_live(name) is None:
            raise NotFoundError(f"no live site is named {name!r}")
    ascii_name = normalize_domain(domain, base_domain=services.settings.base_domain)
    verdict = evaluate(services.dns.lookup(ascii_name), services.dns_expectation)
    return schemas.DnsCheckView(
        domain=ascii_name,
        display=display_name(ascii_name),
        ok=verdict.ok,
        found=list(verdict.found),
        expected=verdict.expected,
        problems=list(verdict.problems),
        explanation=verdict.explain(),
    )
