"""At a worker's start: bring back the processes live sites need on this host (after a reboot,
say), then load the edge from the database.

The database says which sites are ACTIVE; their application processes (local PHP-FPM masters;
containers with a restart policy come back by themselves) are ensured again. Each `ensure_app`
is idempotent: a running, unchanged process is left alone.
"""

from __future__ import annotations

import structlog

from hostplane.errors import HostplaneError
from hostplane.kinds.site import secrets as site_secrets
from hostplane.kinds.site.edge import regenerate_edge
from hostplane.kinds.site.model import SiteStatus, site_spec
from hostplane.kinds.site.repo import sites
from hostplane.providers.local.runtime import LocalRuntime
from hostplane.providers.runtime import RuntimeKind, SiteType
from hostplane.services import Services

log = structlog.get_logger(__name__)


def restore_site_processes(services: Services) -> int:
    with services.store.unit_of_work() as uow:
        live = [
            s for s in sites(uow).live() if s.status == SiteStatus.ACTIVE and not s.tenant_suspended
        ]
    restored = 0
    for site in live:
        if site.runtime != RuntimeKind.LOCAL:
            continue
        try:
            spec = site_spec(site, services.settings)
            runtime = services.runtime(site.runtime)
            if isinstance(runtime, LocalRuntime) and runtime.moved_in(spec):
                # a site an older release kept in the sites dir: its files into its tenant's
                # home first (its database's credentials, for WordPress, are in the store)
                secrets = (
                    site_secrets.site_secrets(services, site)
                    if spec.type == SiteType.WORDPRESS
                    else None
                )
                runtime.ensure_files(spec, secrets)
            if site.type != SiteType.STATIC and runtime.ensure_app(spec).changed:
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
