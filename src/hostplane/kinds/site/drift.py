"""A site's desired state against what the providers observed: every difference classified.
Pure: no I/O (the observation is made in observe.py).

Missing: the database says it should exist and it does not. Drifted: it exists but is wrong
(stopped, wrong image, a generated config that differs). Orphaned: it carries this plane's
marks but no live site (nor data kept on purpose) is behind it. Sites that an operation is
changing right now are left out: their resources are in flux and the operation confirms them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hostplane import naming
from hostplane.kernel.drift import PRUNE, REPAIR, REPORT, Finding, FindingKind
from hostplane.kinds.site.model import Step
from hostplane.providers.docker.runtime import ObservedContainer
from hostplane.providers.runtime import RuntimeKind, SiteType

REGENERATE_EDGE = "regenerate-edge"
# A site whose installed WordPress lost its database is put in maintenance (the edge answers
# 503); one whose WordPress was installed by its operator has its installer closed.
MAINTENANCE = "maintenance"
RESUME = "resume"  # its data is back (restored by the operator): served again
CLOSE_INSTALLER = "close-installer"
MISSING, DRIFTED, LOST = FindingKind.MISSING, FindingKind.DRIFTED, FindingKind.LOST


@dataclass(frozen=True, slots=True)
class DesiredSite:
    name: str
    type: SiteType
    runtime: RuntimeKind
    status: str  # ACTIVE sites must have everything; others are in flux or failed
    busy: bool = False  # an operation is at work on it
    installed: bool = False  # WordPress installed: its database holds data that counts
    maintenance: bool = False  # already answered with a maintenance page
    suspended: bool = False  # its tenant is suspended: its PHP is stopped on purpose


@dataclass(frozen=True, slots=True)
class Observed:
    """What the providers listed. A provider that could not be asked is None: nothing is
    concluded about its resources (an unreachable engine is not a list of missing ones)."""

    edge_in_sync: bool | None = None  # the running edge config equals the rendered one
    edge_routes: frozenset[str] | None = None  # route ids in the running config
    containers: Mapping[str, ObservedContainer] | None = None
    volumes: Mapping[str, str] | None = None  # name → site label
    networks: Mapping[str, str] | None = None
    databases: frozenset[str] | None = None
    database_users: frozenset[str] | None = None
    populated: frozenset[str] | None = None  # databases holding at least one table
    webroots: frozenset[str] | None = None  # local site directories (site names)
    pools: Mapping[str, bool] | None = None  # local PHP-FPM pool → master running
    unreachable: Mapping[str, str] = field(default_factory=dict)  # provider → why


@dataclass(frozen=True, slots=True)
class Expectations:
    php_image: str
    nginx_image: str
    kept: frozenset[str] = frozenset()  # destroyed with --keep-data: their data stays


def _needs_php(site: DesiredSite) -> bool:
    return site.type is not SiteType.STATIC


def diff(sites: Sequence[DesiredSite], observed: Observed, expect: Expectations) -> list[Finding]:
    """Every difference between the live sites and what was observed, in a stable order."""
    live = {s.name: s for s in sites}
    findings: list[Finding] = []
    active = [s for s in live.values() if s.status == "ACTIVE" and not s.busy]
    for site in active:
        findings += _site_findings(site, observed, expect)
    findings += _config_findings(observed, active)
    findings += _orphans(live, observed, expect)
    return sorted(findings, key=lambda f: (f.target or "", f.resource, f.kind.value))


def _finding(kind: FindingKind, resource: str, site: str, detail: str, step: Step) -> Finding:
    return Finding(kind, resource, site, detail, REPAIR, step)


def _site_findings(site: DesiredSite, observed: Observed, expect: Expectations) -> list[Finding]:
    found: list[Finding] = []
    name = site.name
    if site.type is SiteType.WORDPRESS and observed.databases is not None:
        db, user = naming.site_database(name), naming.site_database_user(name)
        found += _database_findings(site, db, observed)
        if observed.database_users is not None and user not in observed.database_users:
            detail = "the site's database user is gone"
            found.append(_finding(MISSING, f"database-user:{user}", name, detail, Step.DATABASE))
    if site.runtime is RuntimeKind.LOCAL:
        found += _local_findings(site, observed)
    else:
        found += _docker_findings(site, observed, expect)
    return found


def _database_findings(site: DesiredSite, db: str, observed: Observed) -> list[Finding]:
    """A WordPress database that is gone, or empty: recreated empty while nothing was installed
    in it; lost data once WordPress was installed (the site goes into maintenance, nothing is
    recreated). Tables in the database of a site not known as installed: its operator installed
    it, and its installer is closed from then on."""
    assert observed.databases is not None
    name, resource = site.name, f"database:{db}"
    gone = db not in observed.databases
    empty = not gone and observed.populated is not None and db not in observed.populated
    if site.installed and (gone or empty):
        what = "is gone" if gone else "is empty"
        action = REPORT if site.maintenance else MAINTENANCE
        detail = (
            f"the installed WordPress's database {what}: lost data, never recreated empty; the "
            "site answers with a maintenance page until it is restored or reinstalled "
            f"(hostctl site reinstall {name})"
        )
        return [Finding(LOST, resource, name, detail, action)]
    if site.maintenance and not gone and not empty and observed.populated is not None:
        detail = "the site's database holds data again (restored): the site is served again"
        return [Finding(DRIFTED, f"maintenance:{name}", name, detail, RESUME)]
    if gone:
        detail = "the site's database is gone: recreated empty (WordPress was never installed)"
        return [_finding(MISSING, resource, name, detail, Step.DATABASE)]
    if not site.installed and observed.populated is not None and db in observed.populated:
        detail = "WordPress was installed by its operator: its installer is closed at the edge"
        return [Finding(DRIFTED, f"wordpress:{name}", name, detail, CLOSE_INSTALLER)]
    return []


def _local_findings(site: DesiredSite, observed: Observed) -> list[Finding]:
    found: list[Finding] = []
    name = site.name
    if observed.webroots is not None and name not in observed.webroots:
        detail = "the site's directory is gone"
        found.append(_finding(MISSING, f"webroot:{name}", name, detail, Step.FILES))
    if _needs_php(site) and observed.pools is not None and not site.suspended:
        running = observed.pools.get(name)
        if running is None:
            detail = "the site's PHP-FPM pool is gone"
            found.append(_finding(MISSING, f"php-pool:{name}", name, detail, Step.APP))
        elif not running:
            detail = "the site's PHP-FPM master is not running"
            found.append(_finding(DRIFTED, f"php-pool:{name}", name, detail, Step.APP))
    return found


def _docker_findings(site: DesiredSite, observed: Observed, expect: Expectations) -> list[Finding]:
    found: list[Finding] = []
    name = site.name
    volume = naming.site_volume(name)
    if observed.volumes is not None and volume not in observed.volumes:
        found.append(
            _finding(MISSING, f"volume:{volume}", name, "the site's volume is gone", Step.FILES)
        )
    if observed.containers is None:
        return found
    wanted = [(naming.web_container(name), expect.nginx_image, Step.WEB)]
    if _needs_php(site):
        wanted.insert(0, (naming.php_container(name), expect.php_image, Step.APP))
    for container, image, step in wanted:
        seen = observed.containers.get(container)
        resource = f"container:{container}"
        if seen is None:
            detail = "container is gone: recreated from the site's volume"
            found.append(_finding(MISSING, resource, name, detail, step))
        elif seen.image != image:
            detail = f"runs image {seen.image}, not {image}"
            found.append(_finding(DRIFTED, resource, name, detail, step))
        elif not seen.running:
            found.append(_finding(DRIFTED, resource, name, "container is stopped", step))
    return found


def _config_findings(observed: Observed, active: list[DesiredSite]) -> list[Finding]:
    found: list[Finding] = []
    if observed.edge_in_sync is False:
        routes = observed.edge_routes or frozenset()
        wanted = {naming.edge_route_id(s.name) for s in active}
        for route in sorted(wanted - routes):
            found.append(
                Finding(
                    FindingKind.MISSING,
                    f"edge-route:{route}",
                    route.removeprefix("site-"),
                    "the edge does not route the site",
                    REGENERATE_EDGE,
                )
            )
        for route in sorted(routes - wanted):
            found.append(
                Finding(
                    FindingKind.ORPHANED,
                    f"edge-route:{route}",
                    None,
                    "the edge routes a site that is not live: the config is regenerated",
                    REGENERATE_EDGE,
                )
            )
        if not found:
            found.append(
                Finding(
                    FindingKind.DRIFTED,
                    "edge-config",
                    None,
                    "the running edge config differs from the one rendered from the database",
                    REGENERATE_EDGE,
                )
            )
    return found


def _orphans(
    live: Mapping[str, DesiredSite], observed: Observed, expect: Expectations
) -> list[Finding]:
    """Marked resources of no live site. Data of sites destroyed with --keep-data is kept."""
    found: list[Finding] = []

    def orphan(resource: str, site: str | None, detail: str) -> None:
        found.append(Finding(FindingKind.ORPHANED, resource, site, detail, PRUNE))

    if observed.containers is not None:
        for container in observed.containers.values():
            if container.site not in live:
                orphan(f"container:{container.name}", container.site, "no live site owns it")
    for kind, listing in (("volume", observed.volumes), ("network", observed.networks)):
        for obj, site in (listing or {}).items():
            if site not in live and not (kind == "volume" and site in expect.kept):
                orphan(f"{kind}:{obj}", site, "no live site owns it")
    owners = {naming.site_database(s): s for s in (*live, *expect.kept)}
    users = {naming.site_database_user(s) for s in (*live, *expect.kept)}
    for db in sorted(observed.databases or ()):
        if db not in owners:
            orphan(f"database:{db}", None, "no live site uses it")
    for user in sorted(observed.database_users or ()):
        if user not in users:
            orphan(f"database-user:{user}", None, "no live site uses it")
    for site in sorted(observed.webroots or ()):
        if site not in live and site not in expect.kept:
            orphan(f"webroot:{site}", site, "no live site owns it")
    for site in sorted(observed.pools or {}):
        if site not in live:
            orphan(f"php-pool:{site}", site, "no live site owns it")
    return found
