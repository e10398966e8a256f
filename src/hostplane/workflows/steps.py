"""What each step of the site workflow does, and how it is undone.

A step re-reads the site from the database (a request carries a name, not a
snapshot) and calls one provider; every action is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hostplane import naming
from hostplane.domain.errors import PermanentError
from hostplane.domain.lifecycle import DomainStatus
from hostplane.domain.sites import SiteType, Step
from hostplane.providers.base import Outcome
from hostplane.store.tables import SiteRow
from hostplane.store.transitions import transition
from hostplane.workflows import domain_steps, site_secrets
from hostplane.workflows.domain_requests import snapshot as domain_snapshot
from hostplane.workflows.edge import regenerate_edge
from hostplane.workflows.services import Services

SITE_DESTROY_ACTOR = "worker"
Action = Callable[[Services, SiteRow, dict[str, object]], Outcome]


@dataclass(frozen=True, slots=True)
class StepActions:
    apply: Action | None
    undo: Action | None
    intent: str  # what apply sets out to do, for the logs; undo reverses it


def _database(services: Services, site: SiteRow, options: dict[str, object]) -> Outcome:
    name, user = naming.site_database(site.name), naming.site_database_user(site.name)
    password = site_secrets.database_password(services, site)
    outcome = services.databases.ensure_database(name, user, password)
    services.databases.check_login(user, password, name)
    return outcome


def _remove_database(services: Services, site: SiteRow, options: dict[str, object]) -> Outcome:
    if options.get("keep_data"):
        return Outcome.UNCHANGED  # database, credentials and salts stay for a later restore
    name, user = naming.site_database(site.name), naming.site_database_user(site.name)
    outcome = services.databases.remove_database(name, user)
    site_secrets.delete(services, site.id, *site_secrets.ALL)
    return outcome


def _files(services: Services, site: SiteRow, options: dict[str, object]) -> Outcome:
    secrets = site_secrets.site_secrets(services, site) if site.type == SiteType.WORDPRESS else None
    return services.runtime(site.runtime).ensure_files(services.spec(site), secrets)


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
    if spec.type is not SiteType.WORDPRESS:
        resp = services.edge.get(spec.hostname)
        if resp.status_code != 200:  # the placeholder page the files step put there
            raise PermanentError(
                f"{spec.url}/ answers HTTP {resp.status_code} through the edge, not its page",
                detail=resp.text[:300],
            )
    else:
        resp = services.edge.get(_visitor_host(spec.url))
        location = resp.headers.get("location", "")
        if not (
            (resp.status_code in (301, 302) and "/wp-admin/install.php" in location)
            or (resp.status_code == 200 and "wp-content" in resp.text)
        ):
            raise PermanentError(
                f"{spec.url}/ does not answer with WordPress through the edge",
                detail=f"HTTP {resp.status_code} {location} {resp.text[:300]}".strip(),
            )
    return Outcome.UNCHANGED


def _visitor_host(url: str) -> str:
    """The Host header a browser sends for `url` (with the port when it is not 80)."""
    return url.split("://", 1)[1].rstrip("/")


def _install(services: Services, site: SiteRow, options: dict[str, object]) -> Outcome:
    """Finish the WordPress install with the admin password made at request time, then
    forget that password: it was shown once, to whoever asked for the site."""
    password = site_secrets.get(services, site.id, site_secrets.WP_ADMIN_PASSWORD)
    if password is None:
        return Outcome.UNCHANGED  # installed by an earlier run, which then deleted it
    if not site.admin_email:
        raise PermanentError(f"site {site.name} has no admin email to install WordPress with")
    hostname = _visitor_host(services.spec(site).url)
    outcome = services.installer.install(
        hostname, title=site.name, email=site.admin_email, password=password
    )
    services.installer.check_login(hostname, password)
    site_secrets.delete(services, site.id, site_secrets.WP_ADMIN_PASSWORD)
    return outcome


def _remove_domains(services: Services, site: SiteRow, options: dict[str, object]) -> Outcome:
    """Every live domain of the site through REMOVING to REMOVED, each undone like a
    domain removal (route, certificate, tunnel rule) and audited."""
    with services.store.unit_of_work() as uow:
        domains = list(uow.domains.for_site(site.id))
        for domain in domains:
            if domain.status in (DomainStatus.VALIDATING, DomainStatus.ROUTING):
                transition(
                    uow,
                    "domain",
                    domain,
                    DomainStatus.FAILED,
                    reason="site destroyed",
                    actor=SITE_DESTROY_ACTOR,
                )
            if domain.status != DomainStatus.REMOVING:
                transition(
                    uow,
                    "domain",
                    domain,
                    DomainStatus.REMOVING,
                    reason="site destroyed",
                    actor=SITE_DESTROY_ACTOR,
                )
    for domain in domains:
        for step in domain_steps.removal_plan(services):
            undo = domain_steps.ACTIONS[step].undo
            if undo is not None:
                undo(services, domain, site)
    with services.store.unit_of_work() as uow:
        for domain in domains:
            row = uow.domains.get(domain.id)
            if row is None or row.status == DomainStatus.REMOVED:
                continue
            transition(
                uow,
                "domain",
                row,
                DomainStatus.REMOVED,
                reason="site destroyed",
                actor=SITE_DESTROY_ACTOR,
            )
            uow.audit.record(
                actor=SITE_DESTROY_ACTOR,
                action="domain.removed",
                target_kind="domain",
                target_name=row.name,
                decision="allowed",
                reason=f"site {site.name} destroyed",
                snapshot=domain_snapshot(row, site.name),
            )
    return Outcome.DELETED if domains else Outcome.ABSENT


ACTIONS: dict[Step, StepActions] = {
    Step.DOMAINS: StepActions(None, _remove_domains, "the site's custom domains removed"),
    Step.DATABASE: StepActions(_database, _remove_database, "the site's database and user"),
    Step.FILES: StepActions(_files, _remove_files, "the site's files in place"),
    Step.APP: StepActions(_app, _remove_app, "the site's application server running"),
    Step.WEB: StepActions(_web, _remove_web, "the site's web server serving its files"),
    Step.EDGE: StepActions(_edge, _remove_edge, "the edge routing the site's hostname"),
    Step.CONFIRM: StepActions(_confirm, None, "the site answering through the edge"),
    Step.INSTALL: StepActions(_install, None, "WordPress installed, its admin able to log in"),
}
