"""What each step of the site workflow does, and how it is undone.

A step re-reads the site from the database (a request carries a name, not a
snapshot) and calls one provider; every action is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hostplane import naming
from hostplane.domain.errors import NotFoundError
from hostplane.domain.sites import Step
from hostplane.providers.base import Outcome
from hostplane.store.tables import SiteRow
from hostplane.workflows.edge import regenerate_edge
from hostplane.workflows.services import Services

Action = Callable[[Services, SiteRow, dict[str, object]], Outcome]


@dataclass(frozen=True, slots=True)
class StepActions:
    apply: Action
    undo: Action | None
    intent: str  # what apply sets out to do, for the logs; undo reverses it


def load_site(services: Services, site_id: str) -> SiteRow:
    with services.store.unit_of_work() as uow:
        site = uow.sites.get(site_id)
        if site is None:
            raise NotFoundError(f"site {site_id} is gone from the state database")
        return site


def _files(services: Services, site: SiteRow, options: dict[str, object]) -> Outcome:
    return services.runtime(site.runtime).ensure_files(services.spec(site), None)


def _remove_files(services: Services, site: SiteRow, options: dict[str, object]) -> Outcome:
    if options.get("keep_data"):
        return Outcome.UNCHANGED
    return services.runtime(site.runtime).remove_files(services.spec(site))


def _app(services: Services, site: SiteRow, options: dict[str, object]) -> Outcome:
    return services.runtime(site.runtime).ensure_app(services.spec(site))


def _remove_app(services: Services, site: SiteRow, options: dict[str, object]) -> Outcome:
    return services.runtime(site.runtime).remove_app(services.spec(site))


def _web(services: Services, site: SiteRow, options: dict[str, object]) -> Outcome:
    return services.runtime(site.runtime).ensure_web(services.spec(site))


def _remove_web(services: Services, site: SiteRow, options: dict[str, object]) -> Outcome:
    return services.runtime(site.runtime).remove_web(services.spec(site))


def _set_routed(services: Services, site: SiteRow, routed: bool) -> None:
    with services.store.unit_of_work() as uow:
        row = uow.sites.get(site.id)
        if row is not None and row.routed != routed:
            row.routed = routed


def _edge(services: Services, site: SiteRow, options: dict[str, object]) -> Outcome:
    _set_routed(services, site, True)
    return regenerate_edge(services)


def _remove_edge(services: Services, site: SiteRow, options: dict[str, object]) -> Outcome:
    _set_routed(services, site, False)
    outcome = regenerate_edge(services)
    services.edge.confirm_gone(services.spec(site).hostname)
    return Outcome.DELETED if outcome.changed else Outcome.ABSENT


def _confirm(services: Services, site: SiteRow, options: dict[str, object]) -> Outcome:
    spec = services.spec(site)
    services.edge.confirm(spec.hostname, naming.edge_route_id(site.name))
    return Outcome.UNCHANGED


ACTIONS: dict[Step, StepActions] = {
    Step.FILES: StepActions(_files, _remove_files, "the site's files in place"),
    Step.APP: StepActions(_app, _remove_app, "the site's application server running"),
    Step.WEB: StepActions(_web, _remove_web, "the site's web server serving its files"),
    Step.EDGE: StepActions(_edge, _remove_edge, "the edge routing the site's hostname"),
    Step.CONFIRM: StepActions(_confirm, None, "the site answering through the edge"),
}
