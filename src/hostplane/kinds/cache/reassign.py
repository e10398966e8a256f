"""Recording a cache's reassign to another tenant (an operator's request): its instance name
embeds the tenant, so a new row under the new name (PENDING, counted against the new
tenant's plan) and the new instance's admin password are made now; the operation deletes the
old tenant's ACL users, moves the instance and starts it as the new tenant's user, and only
when it succeeded is the old row DELETED and the new one ACTIVE."""

from __future__ import annotations

from hostplane.kernel.operations import Submitted, replay, request_hash, submit
from hostplane.kernel.transition import record_created
from hostplane.kinds.cache.lifecycle import audit
from hostplane.kinds.cache.model import (
    KIND,
    LIFECYCLE,
    USER_KIND,
    CacheOp,
    CacheStatus,
    free_port,
    instance_name,
    socket_path,
)
from hostplane.kinds.cache.repo import caches, users
from hostplane.kinds.cache.table import CacheRow
from hostplane.kinds.tenant.model import Limit
from hostplane.kinds.tenant.moves import MovedKind, check_move
from hostplane.kinds.tenant.repo import tenants
from hostplane.kinds.tenant.requests import check_usage
from hostplane.providers.redis.acl import generate_password
from hostplane.services import CACHE_ADMIN_SECRET, Services

S = CacheStatus
MOVED = MovedKind("cache", KIND, USER_KIND)


def reassign_cache(
    services: Services,
    *,
    name: str,
    tenant: str,
    actor: str,
    idempotency_key: str | None = None,
) -> Submitted:
    fingerprint = request_hash({"op": CacheOp.REASSIGN, "name": name, "tenant": tenant})
    with services.store.unit_of_work() as uow:
        replayed = replay(uow, idempotency_key, fingerprint)
        if replayed:
            return replayed
        row = caches(uow).live_or_404(name)
        target = tenants(uow).live_or_404(tenant)
        instance = instance_name(target.name, row.label)
        if services.accounts is not None:
            socket_path(services.accounts.home(target.name), row.label)  # fits a socket
        cache_users = users(uow).of_cache(row.id)
        existing = caches(uow).get_live(instance)
        check_move(uow, MOVED, row, target, instance, existing, cache_users)
        for user in cache_users:
            users(uow).touch(user)
        check_usage(uow, target, Limit.CACHES, caches(uow).count_of_tenant(target.id))
        check_usage(
            uow,
            target,
            Limit.CACHE_MEMORY_MB,
            caches(uow).memory_of_tenant(target.id),
            row.memory_mb,
        )
        tenants(uow).touch(target)  # a create racing this for the last place: one is a 409
        caches(uow).touch(row)
        # A port of its own (the old row keeps its own until the move is done): the old
        # tenant's clients configured with the old one reach nothing of the new tenant's.
        taken = caches(uow).live_ports()
        port = free_port(services.settings.cache_ports, taken) if row.port else None
        moved = caches(uow).add(
            CacheRow(
                tenant_id=target.id,
                label=row.label,
                name=instance,
                memory_mb=row.memory_mb,
                persistence=row.persistence,
                port=port,
                status=S.PENDING,
            )
        )
        uow.flush()
        owner_kind, secret_name = CACHE_ADMIN_SECRET
        uow.secrets.put(
            owner_kind, instance, secret_name, services.secrets.seal(generate_password())
        )
        sub = submit(
            KIND,
            uow,
            row,
            CacheOp.REASSIGN,
            actor,
            idempotency_key,
            fingerprint,
            tenant=target.name,
            to=instance,
            to_id=moved.id,
        )
        reason = f"reassigned from {name}"
        record_created(
            uow, LIFECYCLE, moved, reason=reason, actor=actor, operation_id=sub.operation_id
        )
        audit(
            uow, actor, row, "cache.reassign", f"to tenant {tenant} as {instance}", sub.operation_id
        )
        return sub
