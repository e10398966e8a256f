"""Custom domains of a site: add, remove, list, show, check DNS, see the served certificate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from hostplane.api.deps import CallerDep, ServicesDep, SubmitterDep, errors, submit
from hostplane.errors import NotFoundError
from hostplane.kernel.operations import Submitted
from hostplane.kinds.domain import requests, views
from hostplane.kinds.domain.model import display_name, named_domain
from hostplane.kinds.domain.repo import domains
from hostplane.kinds.site.api import SiteName
from hostplane.kinds.site.repo import sites
from hostplane.providers.dnscheck.verdict import evaluate
from hostplane.services import Services

router = APIRouter(prefix="/v1/sites/{name}/domains", tags=["domains"])

DomainName = Annotated[str, Path(min_length=1, max_length=300)]
ERRORS = errors(401, 403, 404, 409, 422, 503)


def view(
    services: Services, site_name: str, domain: str, scope: str | None = None
) -> views.DomainView:
    """The live domain of that name of the site, else the one removed last."""
    with services.store.unit_of_work() as uow:
        site = sites(uow).live_or_404(site_name, scope)
        rows = [d for d in domains(uow).for_site(site.id, live_only=False) if d.name == domain]
        # The live one, else the one removed last.
        rows.sort(key=lambda d: (d.status != "REMOVED", d.updated_at), reverse=True)
        row = rows[0] if rows else None
        if row is None:
            raise NotFoundError(f"site {site_name!r} has no domain {domain}")
        return views.domain_view(row, site.name, uow.operations.latest_for(row.id))


def accepted(
    response: Response,
    services: Services,
    submitter: SubmitterDep,
    sub: Submitted,
    site_name: str,
    scope: str | None = None,
) -> views.DomainAccepted:
    """202 and the operation, or 200 with the domain as it is when nothing had to be done."""
    submit(submitter, sub)
    if not sub.new:
        response.status_code = 200
    shown = view(services, site_name, sub.target, scope)
    if shown.operation is not None:
        response.headers["Location"] = shown.operation.url
    return views.DomainAccepted(domain=shown, operation=shown.operation if sub.new else None)


@router.post("", status_code=202, responses=ERRORS)
def add_domain(
    name: SiteName,
    body: views.DomainAdd,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    caller: CallerDep,
) -> views.DomainAccepted:
    """Attach a domain: 202 with the operation that proves its DNS and routes it; 200 with
    the domain as it is when the site already has it."""
    sub = requests.add_domain(
        services, site_name=name, domain=body.domain, actor=caller.actor, scope=caller.scope
    )
    return accepted(response, services, submitter, sub, name, caller.scope)


@router.delete("/{domain}", status_code=202, responses=ERRORS)
def remove_domain(
    name: SiteName,
    domain: DomainName,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    caller: CallerDep,
) -> views.DomainAccepted:
    sub = requests.remove_domain(
        services, site_name=name, domain=domain, actor=caller.actor, scope=caller.scope
    )
    return accepted(response, services, submitter, sub, name, caller.scope)


@router.get("", responses=ERRORS)
def list_domains(name: SiteName, services: ServicesDep, caller: CallerDep) -> views.DomainList:
    with services.store.unit_of_work() as uow:
        site = sites(uow).live_or_404(name, caller.scope)
        rows = domains(uow).for_site(site.id)
        return views.DomainList(
            items=[views.domain_view(d, site.name, uow.operations.latest_for(d.id)) for d in rows]
        )


@router.get("/{domain}", responses=ERRORS)
def show_domain(
    name: SiteName, domain: DomainName, services: ServicesDep, caller: CallerDep
) -> views.DomainView:
    ascii_name = named_domain(domain, base_domain=services.settings.base_domain)
    return view(services, name, ascii_name, caller.scope)


@router.get("/{domain}/dns", responses=ERRORS)
def check_dns(
    name: SiteName, domain: DomainName, services: ServicesDep, caller: CallerDep
) -> views.DnsCheckView:
    """What DNS says for `domain` against what the platform expects. Changes nothing."""
    with services.store.unit_of_work() as uow:
        sites(uow).live_or_404(name, caller.scope)
    ascii_name = named_domain(domain, base_domain=services.settings.base_domain)
    verdict = evaluate(services.dns.lookup(ascii_name), services.dns_expectation)
    return views.DnsCheckView(
        domain=ascii_name,
        display=display_name(ascii_name),
        ok=verdict.ok,
        found=list(verdict.found),
        expected=verdict.expected,
        problems=list(verdict.problems),
        explanation=verdict.explain(),
    )
