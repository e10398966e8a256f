"""The edge's whole state derived from the database alone, and the one way to apply it."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from hostplane import naming
from hostplane.domain.edge import AcmeChallenge, EdgeCertificate, EdgeRoute, EdgeState
from hostplane.domain.lifecycle import DomainStatus
from hostplane.providers.base import Outcome
from hostplane.store.repositories import SiteFields
from hostplane.store.tables import DomainRow
from hostplane.store.uow import UnitOfWork
from hostplane.workflows.services import Services

log = structlog.get_logger(__name__)

ROUTED_DOMAIN_STATES = frozenset({DomainStatus.ROUTING, DomainStatus.ACTIVE})
CERT_OWNER = "domain"
CERT_PEM = "tls_certificate"
KEY_PEM = "tls_key"


def served_domains(uow: UnitOfWork) -> tuple[Sequence[SiteFields], dict[str, list[DomainRow]]]:
    """The routed sites and, per site, the custom domains the edge (and the tunnel) serve
    for it: those ROUTING or ACTIVE."""
    sites = uow.sites.routed()
    domains = uow.domains.for_sites([s.id for s in sites])
    served = {
        site_id: [d for d in ds if d.status in ROUTED_DOMAIN_STATES]
        for site_id, ds in domains.items()
    }
    return sites, served


def desired_state(services: Services) -> EdgeState:
    """Routes of routed sites with their routed domains; certificates and pending ACME
    challenges of those domains. A domain in any other state is not served at all."""
    routes: list[EdgeRoute] = []
    certificates: list[EdgeCertificate] = []
    challenges: list[AcmeChallenge] = []
    with services.store.unit_of_work() as uow:
        sites, served = served_domains(uow)
        routed = {d.id: d for ds in served.values() for d in ds}
        sealed = uow.secrets.for_owners(CERT_OWNER, list(routed), (CERT_PEM, KEY_PEM))
        for site in sites:
            spec = services.spec(site)
            extra = [d.name for d in served[site.id]]
            routes.append(
                EdgeRoute(
                    route_id=naming.edge_route_id(site.name),
                    hosts=(spec.hostname, *extra),
                    upstream=services.runtime(site.runtime).upstream(spec),
                )
            )
        for domain in routed.values():
            pems = sealed.get(domain.id, {})
            if CERT_PEM in pems and KEY_PEM in pems:
                certificates.append(
                    EdgeCertificate(
                        host=domain.name,
                        certificate_pem=services.secrets.open(pems[CERT_PEM]),
                        key_pem=services.secrets.open(pems[KEY_PEM]),
                    )
                )
            if domain.acme_token and domain.acme_validation:
                challenges.append(
                    AcmeChallenge(domain.name, domain.acme_token, domain.acme_validation)
                )
    return EdgeState(tuple(routes), tuple(certificates), tuple(challenges))


def regenerate_edge(services: Services) -> Outcome:
    """Load the config rendered from the database; re-read afterwards so a concurrent
    writer's newer state is never overwritten by an older read."""
    outcome = Outcome.UNCHANGED
    with services.edge_lock:
        for _ in range(5):
            state = desired_state(services)
            result = services.edge.apply(state)
            if result is Outcome.UNCHANGED:
                break
            outcome = result
    log.info("edge.regenerated", outcome=str(outcome), routes=len(state.routes))
    return outcome
