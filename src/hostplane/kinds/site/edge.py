"""The edge's whole state derived from the database alone, and the one way to apply it.

The site kind owns the edge: one route per routed site. Its children add to it through the
extension point EDGE (a domain adds its hosts to its site's route, a certificate its PEMs and
ACME challenges), so this module names none of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog

from hostplane import naming
from hostplane.kernel import runtime
from hostplane.kernel.outcome import Outcome
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kinds.site.model import INSTALLER_PATHS, SiteFields, installer_closed, site_spec
from hostplane.kinds.site.repo import sites
from hostplane.providers.edge import (
    SUSPENDED,
    AcmeChallenge,
    EdgeCertificate,
    EdgeRoute,
    EdgeState,
)
from hostplane.services import Services

log = structlog.get_logger(__name__)

# Extension point: contribute(uow, services, draft) adds to the edge's desired state.
EDGE = "site.edge"


@dataclass
class EdgeDraft:
    """The edge's desired state while the kinds add to it: the routed sites, by id."""

    sites: Sequence[SiteFields]
    extra_hosts: dict[str, list[str]] = field(default_factory=dict)  # site id → more hosts
    certificates: list[EdgeCertificate] = field(default_factory=list)
    challenges: list[AcmeChallenge] = field(default_factory=list)

    def add_hosts(self, site_id: str, hosts: Sequence[str]) -> None:
        self.extra_hosts.setdefault(site_id, []).extend(hosts)


def desired_state(services: Services) -> EdgeState:
    """Routes of routed sites with what their children add. Anything else is not served."""
    with services.store.unit_of_work() as uow:
        draft = draft_state(uow, services)
    routes = []
    for site in draft.sites:
        spec = site_spec(site, services.settings)
        closed = installer_closed(site)
        routes.append(
            EdgeRoute(
                route_id=naming.edge_route_id(site.name),
                hosts=(spec.hostname, *draft.extra_hosts.get(site.id, ())),
                upstream=services.runtime(site.runtime).upstream(spec),
                denied_paths=INSTALLER_PATHS if closed else (),
                maintenance=site.maintenance is not None or site.tenant_suspended,
                installer_key=services.installer.installer_key if closed else None,
                maintenance_reason=SUSPENDED if site.tenant_suspended else None,
            )
        )
    return EdgeState(tuple(routes), tuple(draft.certificates), tuple(draft.challenges))


def draft_state(uow: UnitOfWork, services: Services) -> EdgeDraft:
    draft = EdgeDraft(sites=sites(uow).routed())
    for contribute in runtime.registry().contributions(EDGE):
        contribute(uow, services, draft)
    return draft


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
