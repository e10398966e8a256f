"""Custom domains of a site."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from hostplane.api import schemas
from hostplane.api.deps import ActorDep, ServicesDep
from hostplane.domain.dns import evaluate
from hostplane.domain.domains import display_name, normalize_domain
from hostplane.domain.errors import NotFoundError

router = APIRouter(prefix="/v1/sites/{name}/domains", tags=["domains"])

SiteName = Annotated[str, Path(min_length=1, max_length=63)]
DomainName = Annotated[str, Path(min_length=1, max_length=300)]
ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": schemas.ErrorBody} for code in (401, 404, 422, 503)
}


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
