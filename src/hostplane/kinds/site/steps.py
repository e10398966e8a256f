"""What each step of the site's sagas does, and how it is undone.

A step re-reads the site from the database (a request carries a name, not a
snapshot) and calls one provider; every action is idempotent.
"""

from __future__ import annotations

from hostplane import naming
from hostplane.errors import PermanentError
from hostplane.kernel import runtime
from hostplane.kernel.outcome import Outcome
from hostplane.kernel.steps import Options, StepDef
from hostplane.kernel.store.types import utcnow
from hostplane.kinds.site import secrets as site_secrets
from hostplane.kinds.site import tenant_database
from hostplane.kinds.site.edge import apply_site
from hostplane.kinds.site.model import Step, site_spec
from hostplane.kinds.site.repo import sites
from hostplane.kinds.site.table import SiteRow
from hostplane.kinds.tenant.steps import account_of, apply_tenant_sftp, made_for_site_ready
from hostplane.providers.runtime import SiteSpec, SiteType
from hostplane.services import Services

SITE_DESTROY_ACTOR = "worker"
# Extension point: teardown(services, site, actor) -> bool removes a child kind's resources
# of a site being destroyed, through the child's own steps; True when it removed any.
TEARDOWN = "site.teardown"


def spec_of(services: Services, site: SiteRow) -> SiteSpec:
    return site_spec(site, services.settings)


def _database(services: Services, site: SiteRow, options: Options) -> Outcome:
    name, user = naming.site_database(site.name), naming.site_database_user(site.name)
    password = site_secrets.database_password(services, site)
    outcome = services.databases.ensure_database(name, user, password)
    services.databases.check_login(user, password, name)
    return outcome


def _remove_database(services: Services, site: SiteRow, options: Options) -> Outcome:
    # The accounts its tenant added on it first, kept data or not: their grants would outlive
    # the database and cover the next one of its name.
    tenant_database.release(services, site, SITE_DESTROY_ACTOR)
    if options.get("keep_data"):
        return Outcome.UNCHANGED  # database, credentials and salts stay for a later restore
    name, user = naming.site_database(site.name), naming.site_database_user(site.name)
    outcome = services.databases.remove_database(name, user)
    # Not the WordPress admin password: a compensated provision's retry installs with it
    # (the request showed it once); the install deletes it, a destroy's finish otherwise.
    site_secrets.delete(services, site.id, site_secrets.DB_PASSWORD, site_secrets.WP_SALTS)
    return outcome


def _files(services: Services, site: SiteRow, options: Options) -> Outcome:
    """The tenant's account first (a tenant made for this site has it made here), then the
    site's files in its home."""
    made = False
    if site.tenant is not None and services.accounts is not None:
        made = services.accounts.ensure(account_of(site.tenant)).changed
        if made:
            apply_tenant_sftp(services, site.tenant.id, site.tenant.name)  # may log in over SFTP
    if site.tenant is not None:
        made_for_site_ready(services, site.tenant.id, site.name)
    secrets = site_secrets.site_secrets(services, site) if site.type == SiteType.WORDPRESS else None
    outcome = services.runtime(site.runtime).ensure_files(spec_of(services, site), secrets)
    return Outcome.CREATED if made and not outcome.changed else outcome


def _remove_files(services: Services, site: SiteRow, options: Options) -> Outcome:
    if options.get("keep_data"):
        return Outcome.UNCHANGED
    return services.runtime(site.runtime).remove_files(spec_of(services, site))


def _app(services: Services, site: SiteRow, options: Options) -> Outcome:
    return services.runtime(site.runtime).ensure_app(spec_of(services, site))


def _remove_app(services: Services, site: SiteRow, options: Options) -> Outcome:
    return services.runtime(site.runtime).remove_app(spec_of(services, site))


def _web(services: Services, site: SiteRow, options: Options) -> Outcome:
    return services.runtime(site.runtime).ensure_web(spec_of(services, site))


def _remove_web(services: Services, site: SiteRow, options: Options) -> Outcome:
    return services.runtime(site.runtime).remove_web(spec_of(services, site))


def _set_routed(services: Services, site: SiteRow, routed: bool) -> None:
    with services.store.unit_of_work() as uow:
        sites(uow).set_routed(site.id, routed)


def _edge(services: Services, site: SiteRow, options: Options) -> Outcome:
    _set_routed(services, site, True)
    return apply_site(services, site)


def _remove_edge(services: Services, site: SiteRow, options: Options) -> Outcome:
    _set_routed(services, site, False)
    outcome = apply_site(services, site)
    services.edge.confirm_gone(spec_of(services, site).hostname)
    return Outcome.DELETED if outcome.changed else Outcome.ABSENT


def _confirm(services: Services, site: SiteRow, options: Options) -> Outcome:
    """The answer that proves the route is the one judged: a WordPress page costs PHP a
    whole request, which a second one would spend again before the install can start."""
    spec = spec_of(services, site)
    resp = services.edge.confirm(_visitor_host(spec.url), naming.edge_route_id(site.name))
    if spec.type is not SiteType.WORDPRESS:
        if resp.status_code != 200:  # the placeholder page the files step put there
            raise PermanentError(
                f"{spec.url}/ answers HTTP {resp.status_code} through the edge, not its page",
                detail=resp.text[:300],
            )
    else:
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


def _install(services: Services, site: SiteRow, options: Options) -> Outcome:
    """Finish the WordPress install with the admin password made at request time, then
    forget that password: it was shown once, to whoever asked for the site."""
    password = site_secrets.get(services, site.id, site_secrets.WP_ADMIN_PASSWORD)
    if password is None:
        return Outcome.UNCHANGED  # installed by an earlier run, which then deleted it
    if not site.admin_email:
        raise PermanentError(f"site {site.name} has no admin email to install WordPress with")
    hostname = _visitor_host(spec_of(services, site).url)
    outcome = services.installer.install(
        hostname, title=site.name, email=site.admin_email, password=password
    )
    services.installer.check_login(hostname, password)
    with services.store.unit_of_work() as uow:
        row = sites(uow).get(site.id)
        if row is not None and row.installed_at is None:
            row.installed_at = utcnow()  # from now on its database holds data that counts
        uow.secrets.delete(site_secrets.OWNER, site.id, site_secrets.WP_ADMIN_PASSWORD)
    return outcome


def _remove_children(services: Services, site: SiteRow, options: Options) -> Outcome:
    """Every child kind removes what it has of the site (custom domains: route, certificate,
    tunnel rule; each audited), through its own steps."""
    removed = False
    for teardown in runtime.registry().contributions(TEARDOWN):
        removed |= bool(teardown(services, site, SITE_DESTROY_ACTOR))
    return Outcome.DELETED if removed else Outcome.ABSENT


STEPS: tuple[StepDef[SiteRow], ...] = (
    StepDef(Step.DOMAINS, None, _remove_children, "the site's custom domains removed"),
    StepDef(Step.DATABASE, _database, _remove_database, "the site's database and user"),
    StepDef(Step.FILES, _files, _remove_files, "the site's files in place"),
    StepDef(Step.APP, _app, _remove_app, "the site's application server running"),
    StepDef(Step.WEB, _web, _remove_web, "the site's web server serving its files"),
    StepDef(Step.EDGE, _edge, _remove_edge, "the edge routing the site's hostname"),
    StepDef(Step.CONFIRM, _confirm, None, "the site answering through the edge"),
    StepDef(Step.INSTALL, _install, None, "WordPress installed, its admin able to log in"),
)
BY_NAME = {step.name: step for step in STEPS}
