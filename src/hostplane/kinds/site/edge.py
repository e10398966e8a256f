"""The edge's state derived from the database alone, and the ways to apply it.

The site kind owns the edge: one route per routed site. Its children add to it through the
extension point EDGE (a domain adds its hosts to its site's route, a certificate its PEMs and
ACME challenges), so this module names none of them.

Two ways, one derive: `regenerate_edge` applies the whole state (start, `hostctl regenerate`,
the reconciler); `apply_site` applies one site's part of it (a site step), derived by the same
code with the draft restricted to that site, so the two cannot disagree. An edge that can only
load its state whole (Caddy alone) is regenerated whole either way.
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
    EdgeSlice,
    EdgeState,
    SlicedEdge,
)
from hostplane.services import Services

log = structlog.get_logger(__name__)

# Extension point: contribute(uow, services, draft) adds to the edge's desired state; with
# draft.site_id set, only what belongs to that site (its rows alone are read).
EDGE = "site.edge"
# How many times an apply re-derives before giving up on a state that keeps changing.
_PASSES = 5


@dataclass
class EdgeDraft:
    """The edge's desired state while the kinds add to it: the routed sites, by id. With
    `site_id`, the draft of that one site (whose route is absent when it is not routed)."""

    sites: Sequence[SiteFields]
    site_id: str | None = None
    extra_hosts: dict[str, list[str]] = field(default_factory=dict)  # site id → more hosts
    certificates: list[EdgeCertificate] = field(default_factory=list)
    challenges: list[AcmeChallenge] = field(default_factory=list)

    def add_hosts(self, site_id: str, hosts: Sequence[str]) -> None:
        self.extra_hosts.setdefault(site_id, []).extend(hosts)


def desired_state(services: Services, site_id: str | None = None) -> EdgeState:
    """Routes of routed sites with what their children add. Anything else is not served.
    With `site_id`, the same restricted to that site."""
    with services.store.unit_of_work() as uow:
        draft = draft_state(uow, services, site_id)
    return state_of(services, draft)


def state_of(services: Services, draft: EdgeDraft) -> EdgeState:
    """The edge's state from a draft every kind has added to."""
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


def draft_state(
    uow: UnitOfWork,
    services: Services,
    site_id: str | None = None,
    routed: Sequence[SiteFields] | None = None,
) -> EdgeDraft:
    """The draft of the edge's state; `routed`: the routed sites' rows, when the caller has
    read them in this unit of work already."""
    rows = sites(uow).routed(site_id) if routed is None else routed
    draft = EdgeDraft(sites=rows, site_id=site_id)
    for contribute in runtime.registry().contributions(EDGE):
        contribute(uow, services, draft)
    return draft


def regenerate_edge(services: Services) -> Outcome:
    """Load the config rendered from the database; re-read afterwards so a concurrent
    writer's newer state is never overwritten by an older read."""
    outcome = Outcome.UNCHANGED
    with services.edge_lock:
        for _ in range(_PASSES):
            state = desired_state(services)
            result = services.edge.apply(state)
            if result is Outcome.UNCHANGED:
                break
            outcome = result
    log.info("edge.regenerated", outcome=str(outcome), routes=len(state.routes))
    return outcome


def site_slice(services: Services, site: SiteFields, gone: Sequence[str] = ()) -> EdgeSlice:
    """The site's part of the edge's desired state, and every host it may hold there: its
    own, its route's, and `gone` (hosts it gave up, such as a domain being removed)."""
    state = desired_state(services, site.id)
    hostname = naming.site_hostname(site.name, services.settings.base_domain)
    hosts = [hostname, *gone]
    hosts += [h for route in state.routes for h in route.hosts]
    hosts += [c.host for c in state.certificates] + [c.host for c in state.challenges]
    return EdgeSlice(naming.edge_route_id(site.name), state, tuple(dict.fromkeys(hosts)))


def apply_site(services: Services, site: SiteFields, gone: Sequence[str] = ()) -> Outcome:
    """Make the edge serve the site as the database says, touching nothing of the others'."""
    return apply_sites(services, [site], gone)


def apply_sites(
    services: Services, some: Sequence[SiteFields], gone: Sequence[str] = ()
) -> Outcome:
    """The same for a few sites (a tenant's), each re-derived after its apply as
    regenerate_edge does, so a concurrent writer's newer state wins; an edge that loads its
    state whole only (Caddy alone) is regenerated once instead."""
    edge = services.edge
    if not isinstance(edge, SlicedEdge):
        return regenerate_edge(services)
    changed = False
    with services.edge_lock:
        for site in some:
            outcome = Outcome.UNCHANGED
            for _ in range(_PASSES):
                result = edge.apply_slice(site_slice(services, site, gone))
                if result is Outcome.UNCHANGED:
                    break
                outcome = result
            changed |= outcome.changed
            log.info("edge.site_applied", site=site.name, outcome=str(outcome))
    if len(some) == 1:
        return outcome
    return Outcome.UPDATED if changed else Outcome.UNCHANGED
