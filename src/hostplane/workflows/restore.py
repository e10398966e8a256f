"""At start-up, bring back the processes live sites need on this host (after a reboot, say).

The database says which sites are ACTIVE; their application processes (local PHP-FPM masters,
containers with a restart policy come back by themselves) are ensured again. Each `ensure_app`
is idempotent: a running, unchanged process is left alone.
"""

from __future__ import annotations

import structlog

from hostplane.domain.errors import HostplaneError
from hostplane.domain.lifecycle import SiteStatus
from hostplane.domain.sites import RuntimeKind, SiteType
from hostplane.workflows.services import Services

log = structlog.get_logger(__name__)


def restore_site_processes(services: Services) -> int:
    with services.store.unit_of_work() as uow:
        sites = [s for s in uow.sites.live() if s.status == SiteStatus.ACTIVE]
    restored = 0
    for site in sites:
        if site.runtime != RuntimeKind.LOCAL or site.type == SiteType.STATIC:
            continue
        try:
            if services.runtime(site.runtime).ensure_app(services.spec(site)).changed:
                restored += 1
        except HostplaneError as exc:
            log.error("site.restore_failed", site=site.name, error=str(exc))
    if restored:
        log.info("sites.restored", count=restored)
    return restored
