"""Recording intent as the API does (the kinds' request functions), for the tier's tests."""

from __future__ import annotations

from hostplane.kernel.operations import Submitted
from hostplane.kinds.domain import requests as domain_requests
from hostplane.kinds.site import requests as site_requests
from hostplane.services import Services

ACTOR = "tester"
EMAIL = "admin@shop.example"


def create_site(
    services: Services,
    name: str = "shop",
    type: str = "php",
    *,
    email: str | None = None,
    key: str | None = None,
) -> site_requests.Created:
    return site_requests.create_site(
        services,
        name=name,
        type=type,
        runtime=None,
        admin_email=email,
        actor=ACTOR,
        idempotency_key=key,
    )


def destroy_site(
    services: Services, name: str = "shop", *, key: str | None = None, keep_data: bool = False
) -> Submitted:
    return site_requests.destroy_site(
        services, name=name, keep_data=keep_data, actor=ACTOR, idempotency_key=key
    )


def retry_site(services: Services, name: str = "shop") -> Submitted:
    return site_requests.retry_site(services, name=name, actor=ACTOR)


def add_domain(services: Services, domain: str, site: str = "shop") -> Submitted:
    return domain_requests.add_domain(services, site_name=site, domain=domain, actor=ACTOR)


def remove_domain(services: Services, domain: str, site: str = "shop") -> Submitted:
    return domain_requests.remove_domain(services, site_name=site, domain=domain, actor=ACTOR)
