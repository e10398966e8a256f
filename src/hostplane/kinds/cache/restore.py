"""At a worker's start: every ACTIVE cache's instance ensured (a running one adopted, as its
pid file and /proc say; a dead one started; a config not as rendered put back); then the
supervisor that restarts a dead instance within a second, left running by the plane."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from hostplane.errors import HostplaneError
from hostplane.kernel.kind import Daemon
from hostplane.kinds.cache.model import SERVED
from hostplane.kinds.cache.repo import caches
from hostplane.kinds.cache.steps import spec
from hostplane.providers.redis.supervise import RedisSupervisor
from hostplane.services import Services

log = structlog.get_logger(__name__)


def on_start(services: Services) -> None:
    if services.caches is None:
        return
    with services.store.unit_of_work() as uow:
        served = [c for c in caches(uow).live() if c.status in SERVED]
    for row in served:
        try:
            outcome = services.caches.ensure(spec(services, row))
            log.info("cache.instance_restored", cache=row.name, outcome=str(outcome))
        except HostplaneError as exc:  # the supervisor and the reconciler try again
            log.error("cache.restore_failed", cache=row.name, error=str(exc))


def daemons(services: Services) -> Sequence[Daemon]:
    if services.caches is None:
        return []

    def restarted(names: list[str]) -> None:
        log.warning("cache.instances_restarted", caches=names)

    return [RedisSupervisor(services.caches, on_restart=restarted)]
