"""Edge routes derived from the database alone, and the one way to apply them."""

from __future__ import annotations

import structlog

from hostplane import naming
from hostplane.domain.edge import EdgeRoute
from hostplane.domain.lifecycle import DomainStatus
from hostplane.providers.base import Outcome
from hostplane.workflows.services import Services

log = structlog.get_logger(__name__)

ROUTED_DOMAIN_STATES = frozenset({DomainStatus.ROUTING, DomainStatus.ACTIVE})


def desired_routes(services: Services) -> list[EdgeRoute]:
    with services.store.unit_of_work() as uow:
        sites = uow.sites.routed()
        domains = uow.domains.for_sites([s.id for s in sites])
        routes = []
        for site in sites:
            spec = services.spec(site)
            extra = [d.name for d in domains[site.id] if d.status in ROUTED_DOMAIN_STATES]
            routes.append(
                EdgeRoute(
                    route_id=naming.edge_route_id(site.name),
                    hosts=(spec.hostname, *extra),
                    upstream=services.runtime(site.runtime).upstream(spec),
                )
            )
    return routes


def regenerate_edge(services: Services) -> Outcome:
    """Load the config rendered from the database; re-read afterwards so a concurrent
    writer's newer state is never overwritten by an older read."""
    outcome = Outcome.UNCHANGED
    with services.edge_lock:
        for _ in range(5):
            routes = desired_routes(services)
            result = services.edge.apply(routes)
            if result is Outcome.UNCHANGED:
                break
            outcome = result
    log.info("edge.regenerated", outcome=str(outcome), routes=len(routes))
    return outcome
