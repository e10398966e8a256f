"""At a worker's start: every ACTIVE cache's instance ensured (a running one adopted, as its
pid file and /proc say; a dead one started; a config not as rendered put back); then the
supervisor that restarts a dead instance within a second, left running by the plane."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from hostplane.errors import HostplaneError
from hostplane.kernel.kind import Daemon
from hostplane.kernel.operations import slot
from hostplane.kernel.store.tables import OperationRow
from hostplane.kinds.cache.model import KIND, SERVED, CacheOp
from hostplane.kinds.cache.repo import caches
from hostplane.kinds.cache.steps import spec
from hostplane.providers.redis.supervise import RedisSupervisor
from hostplane.services import Services

log = structlog.get_logger(__name__)


def on_start(services: Services) -> None:
    """A cache being reassigned is left to its operation, which resumes it: ensured here it
    would come back empty under its old name while its data waits under the new one."""
    if services.caches is None:
        return
    with services.store.unit_of_work() as uow:
        served = [
            c
            for c in caches(uow).live()
            if c.status in SERVED and not _moving(uow.operations.active_for(slot(KIND, c.name)))
        ]
    for row in served:
        try:
            outcome = services.caches.ensure(spec(services, row))
            log.info("cache.instance_restored", cache=row.name, outcome=str(outcome))
        except HostplaneError as exc:  # the supervisor and the reconciler try again
            log.error("cache.restore_failed", cache=row.name, error=str(exc))


def _moving(op: OperationRow | None) -> bool:
    return op is not None and op.kind == CacheOp.REASSIGN


def daemons(services: Services) -> Sequence[Daemon]:
    if services.caches is None:
        return []

    def restarted(names: list[str]) -> None:
        log.warning("cache.instances_restarted", caches=names)

    return [RedisSupervisor(services.caches, on_restart=restarted)]
