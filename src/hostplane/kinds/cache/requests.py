"""Recording a cache's or a cache user's intent: the row and its operation in one
transaction; the API submits the operation after the commit. A cache's admin password and a
user's password are made here and sealed into the store in the same transaction; the user's
is handed back once, the admin's never."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from hostplane.errors import ConflictError, NotFoundError
from hostplane.kernel.operations import Submitted, refuse_if_busy, replay, request_hash, submit
from hostplane.kernel.transition import record_created
from hostplane.kinds.cache.lifecycle import audit
from hostplane.kinds.cache.model import (
    DELETABLE,
    KIND,
    LIFECYCLE,
    USER_KIND,
    USER_LIFECYCLE,
    CacheOp,
    CacheStatus,
    free_port,
    instance_name,
    socket_path,
    user_handle,
    validate_key_prefix,
    validate_memory,
    validate_name,
    validate_persistence,
    validate_user_name,
)
from hostplane.kinds.cache.repo import caches, users
from hostplane.kinds.cache.steps import PASSWORD, SECRET_OWNER
from hostplane.kinds.cache.table import CacheRow, CacheUserRow
from hostplane.kinds.tenant.model import Limit, TenantStatus
from hostplane.kinds.tenant.repo import tenants
from hostplane.kinds.tenant.requests import check_usage
from hostplane.providers.redis.acl import generate_password
from hostplane.services import CACHE_ADMIN_SECRET, Services

_cache_op = partial(submit, KIND)
_user_op = partial(submit, USER_KIND)
S = CacheStatus


@dataclass(frozen=True, slots=True)
class UserSubmitted:
    submitted: Submitted
    password: str | None  # None when an Idempotency-Key replayed the first request


def create_cache(
    services: Services,
    *,
    tenant: str,
    name: str,
    memory_mb: int,
    persistence: str,
    actor: str,
    idempotency_key: str | None,
    scope: str | None = None,
    tcp: bool = False,
) -> Submitted:
    """A Redis instance of the tenant's own, its admin password made and sealed now."""
    name = validate_name(name)
    memory_mb = validate_memory(memory_mb, services.settings.cache_max_memory_mb)
    persistence = validate_persistence(persistence)
    fingerprint = request_hash(
        {
            "op": CacheOp.CREATE,
            "tenant": tenant,
            "name": name,
            "memory_mb": memory_mb,
            "persistence": persistence,
            "tcp": tcp,
        }
    )
    with services.store.unit_of_work() as uow:
        replayed = replay(uow, idempotency_key, fingerprint)
        if replayed:
            return replayed
        owner = tenants(uow).live_or_404(tenant, scope)
        if owner.status != TenantStatus.ACTIVE:
            raise ConflictError(
                f"tenant {tenant!r} is {owner.status}: caches are added to ACTIVE tenants only"
            )
        instance = instance_name(owner.name, name)
        if services.accounts is not None:
            socket_path(services.accounts.home(owner.name), name)  # fits a socket's length
        existing = caches(uow).get_live(instance)
        if existing is not None:
            raise ConflictError(
                f"tenant {tenant!r} has a cache {name!r} already ({instance}, "
                f"status {existing.status})"
            )
        refuse_if_busy(uow, KIND, instance)
        check_usage(uow, owner, Limit.CACHES, caches(uow).count_of_tenant(owner.id))
        used = caches(uow).memory_of_tenant(owner.id)
        check_usage(uow, owner, Limit.CACHE_MEMORY_MB, used, memory_mb)
        tenants(uow).touch(owner)  # two creates of one tenant at once: the second is a 409
        port = free_port(services.settings.cache_ports, caches(uow).live_ports()) if tcp else None
        row = caches(uow).add(
            CacheRow(
                tenant_id=owner.id,
                label=name,
                name=instance,
                memory_mb=memory_mb,
                persistence=persistence,
                port=port,
                status=S.PENDING,
            )
        )
        uow.flush()
        owner_kind, secret_name = CACHE_ADMIN_SECRET
        uow.secrets.put(
            owner_kind, instance, secret_name, services.secrets.seal(generate_password())
        )
        sub = _cache_op(uow, row, CacheOp.CREATE, actor, idempotency_key, fingerprint)
        record_created(
            uow, LIFECYCLE, row, reason="requested", actor=actor, operation_id=sub.operation_id
        )
        return sub


def delete_cache(
    services: Services,
    *,
    name: str,
    actor: str,
    scope: str | None = None,
    idempotency_key: str | None = None,
) -> Submitted:
    """The instance stopped and its files removed, with every user of it; audited."""
    fingerprint = request_hash({"op": CacheOp.DELETE, "name": name})
    with services.store.unit_of_work() as uow:
        replayed = replay(uow, idempotency_key, fingerprint)
        if replayed:
            return replayed
        row = caches(uow).live_or_404(name, scope)
        refuse_if_busy(uow, KIND, name)
        if row.status not in DELETABLE:
            raise ConflictError(
                f"cache {name!r} is {row.status}: only ACTIVE or FAILED caches are deleted"
            )
        for user in users(uow).of_cache(row.id):
            refuse_if_busy(uow, USER_KIND, user.name)
            users(uow).touch(user)
        caches(uow).touch(row)
        sub = _cache_op(uow, row, CacheOp.DELETE, actor, idempotency_key, fingerprint)
        audit(uow, actor, row, "cache.delete", f"cache is {row.status}", sub.operation_id)
        return sub


def retry_cache(
    services: Services, *, name: str, actor: str, scope: str | None = None
) -> Submitted:
    with services.store.unit_of_work() as uow:
        row = caches(uow).live_or_404(name, scope)
        refuse_if_busy(uow, KIND, name)
        if row.status != S.FAILED:
            raise ConflictError(f"cache {name!r} is {row.status}: only FAILED ones are retried")
        last = uow.operations.latest_for(row.id)
        if last is not None and last.kind == CacheOp.DELETE:
            return _cache_op(uow, row, CacheOp.DELETE, actor)
        return _cache_op(uow, row, CacheOp.RETRY, actor)


def create_user(
    services: Services,
    *,
    cache: str,
    name: str,
    key_prefix: str,
    actor: str,
    idempotency_key: str | None,
    scope: str | None = None,
) -> UserSubmitted:
    """An ACL user of the cache allowed only keys and channels under `key_prefix`; its
    password made now, sealed, and returned here only."""
    name = validate_user_name(name)
    key_prefix = validate_key_prefix(key_prefix)
    fingerprint = request_hash(
        {"op": CacheOp.USER_CREATE, "cache": cache, "name": name, "key_prefix": key_prefix}
    )
    with services.store.unit_of_work() as uow:
        replayed = replay(uow, idempotency_key, fingerprint)
        if replayed:
            return UserSubmitted(replayed, None)
        row = caches(uow).live_or_404(cache, scope)
        if row.status != S.ACTIVE:
            raise ConflictError(
                f"cache {cache!r} is {row.status}: users are added to ACTIVE caches only"
            )
        handle = user_handle(row.name, name)
        existing = users(uow).get_live(handle)
        if existing is not None:
            raise ConflictError(
                f"cache {cache!r} has a user {name!r} already (status {existing.status})"
            )
        refuse_if_busy(uow, KIND, row.name)
        refuse_if_busy(uow, USER_KIND, handle)
        caches(uow).touch(row)  # a delete of the cache racing this cannot also commit
        user = users(uow).add(
            CacheUserRow(
                tenant_id=row.tenant_id,
                cache_id=row.id,
                label=name,
                name=handle,
                key_prefix=key_prefix,
                status=S.PENDING,
            )
        )
        uow.flush()
        secret = generate_password()
        uow.secrets.add(SECRET_OWNER, user.id, PASSWORD, services.secrets.seal(secret))
        sub = _user_op(uow, user, CacheOp.USER_CREATE, actor, idempotency_key, fingerprint)
        record_created(
            uow,
            USER_LIFECYCLE,
            user,
            reason="requested",
            actor=actor,
            operation_id=sub.operation_id,
        )
        return UserSubmitted(sub, secret)


def delete_user(
    services: Services,
    *,
    cache: str,
    name: str,
    actor: str,
    scope: str | None = None,
    idempotency_key: str | None = None,
) -> Submitted:
    fingerprint = request_hash({"op": CacheOp.USER_DELETE, "cache": cache, "name": name})
    with services.store.unit_of_work() as uow:
        replayed = replay(uow, idempotency_key, fingerprint)
        if replayed:
            return replayed
        row = caches(uow).live_or_404(cache, scope)
        user = users(uow).get_live(user_handle(row.name, name))
        if user is None:
            raise NotFoundError(f"cache {cache!r} has no user {name!r}")
        refuse_if_busy(uow, KIND, row.name)
        refuse_if_busy(uow, USER_KIND, user.name)
        if user.status not in DELETABLE:
            raise ConflictError(
                f"cache user {name!r} is {user.status}: only ACTIVE or FAILED ones are deleted"
            )
        users(uow).touch(user)
        sub = _user_op(uow, user, CacheOp.USER_DELETE, actor, idempotency_key, fingerprint)
        audit(uow, actor, user, "cache.user.delete", f"user is {user.status}", sub.operation_id)
        return sub


def audit_refusal(
    services: Services, *, actor: str, name: str, reason: str, scope: str | None
) -> None:
    """A refused cache deletion is audited in its own transaction (never another tenant's)."""
    with services.store.unit_of_work() as uow:
        row = caches(uow).get_latest(name)
        if row is None or (scope is not None and row.tenant_id != scope):
            return
        audit(uow, actor, row, "cache.delete", reason, None, decision="refused")
