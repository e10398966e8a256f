"""At a worker's start: bring back the processes live sites need on this host (after a reboot,
say), then load the edge from the database.

The database says which sites are ACTIVE; their application processes (local PHP-FPM masters;
containers with a restart policy come back by themselves) are ensured again. Each `ensure_app`
is idempotent: a running, unchanged process is left alone.
"""

from __future__ import annotations

import structlog

from hostplane import naming
from hostplane.errors import HostplaneError
from hostplane.kinds.site import secrets as site_secrets
from hostplane.kinds.site.edge import regenerate_edge
from hostplane.kinds.site.model import SiteStatus, site_spec
from hostplane.kinds.site.repo import sites
from hostplane.providers.local.runtime import LocalRuntime
from hostplane.providers.runtime import RuntimeKind, SiteType
from hostplane.services import Services

log = structlog.get_logger(__name__)


def move_in_legacy_sites(services: Services) -> None:
    """Sites an older release kept in the sites dir, each with a user of its own whose home
    was that folder: their PHP-FPM master (running as that user, which usermod cannot change
    then) is stopped, the user becomes its tenant's (home and mark), the files move into the
    tenant's home. Before the tenants' accounts are restored; the site restore then starts
    the master again from the new folder."""
    local = services.runtimes.get(RuntimeKind.LOCAL)
    left = local.legacy_folders() if isinstance(local, LocalRuntime) else frozenset()
    if not left:  # one scan instead of a look per site: the usual case at every start
        return
    with services.store.unit_of_work() as uow:
        live = [
            s
            for s in sites(uow).live()
            if s.runtime == RuntimeKind.LOCAL and naming.site_dir(s.name) in left
        ]
    for site in live:
        runtime = services.runtime(site.runtime)
        spec = site_spec(site, services.settings)
        if not isinstance(runtime, LocalRuntime) or not runtime.moved_in(spec):
            continue
        try:
            if spec.type != SiteType.STATIC:
                runtime.remove_app(spec)
            if services.accounts is not None:
                services.accounts.ensure(runtime.account(spec))
            wordpress = spec.type == SiteType.WORDPRESS
            secrets = site_secrets.site_secrets(services, site) if wordpress else None
            runtime.ensure_files(spec, secrets)
        except HostplaneError as exc:
            log.error("site.move_in_failed", site=site.name, error=str(exc))


def restore_site_processes(services: Services) -> int:
    with services.store.unit_of_work() as uow:
        live = [  # fields, not ORM rows: thousands at every start
            s
            for s in sites(uow).live_fields()
            if s.status == SiteStatus.ACTIVE and not s.tenant_suspended
        ]
    restored = 0
    for site in live:
        if site.runtime != RuntimeKind.LOCAL or site.type == SiteType.STATIC:
            continue  # a static site has no process: the edge serves its files
        try:
            spec = site_spec(site, services.settings)
            runtime = services.runtime(site.runtime)
            if runtime.ensure_app(spec).changed:
                restored += 1
        except HostplaneError as exc:
            log.error("site.restore_failed", site=site.name, error=str(exc))
    if restored:
        log.info("sites.restored", count=restored)
    return restored


def on_start(services: Services) -> None:
    restore_site_processes(services)
    try:
        regenerate_edge(services)
    except Exception as exc:  # the worker serves on; the reconciler tries again
        log.error("edge.regenerate_failed", error=str(exc))
