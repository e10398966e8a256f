"""What caches contribute to their tenant: what it owns, the cascade delete of its caches
(each instance removed by the kind's own undo step, then DELETED and audited), and its
suspension (every ACL user of its caches off, their connections cut; on again after)."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from hostplane.errors import ConflictError, NotFoundError
from hostplane.kernel.operations import refuse_if_busy
from hostplane.kernel.outcome import Outcome
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kinds.cache.lifecycle import audit, forget, retire
from hostplane.kinds.cache.model import KIND, SERVED, USER_KIND, CacheStatus, Step
from hostplane.kinds.cache.repo import caches, users
from hostplane.kinds.cache.steps import BY_NAME, acl
from hostplane.kinds.tenant.model import Limit
from hostplane.kinds.tenant.table import TenantRow
from hostplane.services import Services

log = structlog.get_logger(__name__)
S = CacheStatus


def owned(uow: UnitOfWork, tenant: TenantRow) -> dict[str, list[str]]:
    return {"caches": [c.name for c in caches(uow).of_tenant(tenant.id)]}


def usage(uow: UnitOfWork, tenant: TenantRow) -> dict[str, int]:
    return {Limit.CACHE_MEMORY_MB: caches(uow).memory_of_tenant(tenant.id)}


def before_teardown(uow: UnitOfWork, tenant: TenantRow, actor: str) -> list[str]:
    """A cascade delete waits (409) while one of the tenant's caches or users is at work."""
    for row in caches(uow).of_tenant(tenant.id):
        refuse_if_busy(uow, KIND, row.name)
        if row.status in (S.PENDING, S.PROVISIONING):  # moving in: another cache's operation
            raise ConflictError(
                f"cache {row.name} of tenant {tenant.name!r} is {row.status} (being made or "
                "reassigned to it): wait for it to finish"
            )
        for user in users(uow).of_cache(row.id):
            refuse_if_busy(uow, USER_KIND, user.name)
        caches(uow).touch(row)
    return []


def teardown(services: Services, tenant: TenantRow, actor: str) -> bool:
    """Every live cache of the tenant through DELETING to DELETED, with its users."""
    with services.store.unit_of_work() as uow:
        ids = [c.id for c in caches(uow).of_tenant(tenant.id)]
    for cache_id in ids:
        _delete(services, cache_id, tenant.name, actor)
    return bool(ids)


def _delete(services: Services, cache_id: str, tenant: str, actor: str) -> None:
    reason = f"tenant {tenant} deleted"
    with services.store.unit_of_work() as uow:
        row = caches(uow).get(cache_id)
        assert row is not None
        if row.status != S.DELETED:
            retire(uow, row, S.DELETING, reason, actor, None)
    undo = BY_NAME[Step.INSTANCE].undo  # the delete plan's undo
    assert undo is not None
    undo(services, row, {})
    with services.store.unit_of_work() as uow:
        current = caches(uow).get(cache_id)
        if current is None or current.status == S.DELETED:
            return
        forget(uow, current, reason, actor, None)
        audit(uow, actor, current, "cache.deleted", f"its tenant {tenant} was deleted", None)


def follow_suspension(services: Services, tenant: TenantRow) -> Outcome:
    """Every ACTIVE user of the tenant's ACTIVE caches off while the tenant is to be
    suspended (`ACL SETUSER … off`, its connections cut), on again when it is not."""
    on = tenant.suspension is None
    with services.store.unit_of_work() as uow:
        wanted = [
            (cache.name, user.label)
            for cache in caches(uow).of_tenant(tenant.id)
            if cache.status in SERVED
            for user in users(uow).of_cache(cache.id)
            if user.status in SERVED
        ]
    if not wanted:
        return Outcome.UNCHANGED
    redis_acl = acl(services)
    changed = False
    for instance, user in wanted:
        try:
            changed |= redis_acl.set_enabled(instance, user, on).changed
        except NotFoundError:  # the instance or user is gone: the reconciler puts it back
            log.warning("cache.user_missing", cache=instance, user=user, enabled=on)
    log.info("tenant.caches_followed", tenant=tenant.name, suspended=not on, users=len(wanted))
    return Outcome.UPDATED if changed else Outcome.UNCHANGED


def keep_running(services: Services, tenant: TenantRow) -> Callable[[int], bool]:
    """A suspension ends the tenant's processes but its cache instances (their data kept,
    their users off): the supervisor would start them again anyway."""
    instances = services.caches
    return instances.runs if instances is not None else lambda pid: False
