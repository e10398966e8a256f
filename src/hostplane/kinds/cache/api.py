"""Tenants' caches and their users: create, list, show, delete, retry, reassign."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from hostplane.api.deps import (
    ActorDep,
    CallerDep,
    IdempotencyKey,
    ServicesDep,
    SubmitterDep,
    accepted,
    errors,
    retrying,
)
from hostplane.errors import ConflictError, ValidationError
from hostplane.kinds.cache import reassign, requests, user_update, views
from hostplane.kinds.cache.model import KIND, LOOPBACK, socket_path
from hostplane.kinds.cache.repo import caches, users
from hostplane.kinds.cache.table import CacheRow
from hostplane.kinds.tenant.repo import tenants
from hostplane.kinds.tenant.table import TenantRow
from hostplane.services import Services

tenant_router = APIRouter(prefix="/v1/tenants/{tenant}/caches", tags=["caches"])
router = APIRouter(prefix="/v1/caches", tags=["caches"])

TenantName = Annotated[str, Path(min_length=1, max_length=32, pattern=views.TENANT_PATTERN)]
CacheName = Annotated[str, Path(min_length=7, max_length=63, pattern=views.CACHE_PATTERN)]
UserName = Annotated[str, Path(min_length=1, max_length=32, pattern=views.USER_PATH_PATTERN)]
ERRORS = errors(401, 403, 404, 409, 422)


def _socket(services: Services, tenant: TenantRow | None, label: str) -> str | None:
    """Where the cache's clients connect (the tenant's processes only)."""
    if services.accounts is None or tenant is None:
        return None
    try:
        return str(socket_path(services.accounts.home(tenant.name), label))
    except ValidationError:
        return None


def _where(services: Services, tenant: TenantRow | None, row: CacheRow) -> views.Connection:
    """Its socket, and its loopback port if it has one."""
    host = LOOPBACK if row.port else None
    return views.Connection(socket=_socket(services, tenant, row.label), host=host, port=row.port)


def _where_of(services: Services, cache: str) -> views.Connection:
    with services.store.unit_of_work() as uow:
        row = caches(uow).get_live(cache)
        if row is None:
            return views.Connection(socket=None)
        return _where(services, tenants(uow).get(row.tenant_id), row)


@tenant_router.post("", status_code=202, responses=ERRORS)
def create_cache(
    tenant: TenantName,
    body: views.CacheCreate,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> views.Accepted:
    """A Redis instance of the tenant's own (run as its user, its socket in its home),
    counted against its plan's `caches`. 409 when the tenant has one of that name, is not
    ACTIVE or is at its limit; 422 for a name, memory_mb or persistence out of bounds."""
    sub = retrying(
        idempotency_key,
        lambda: requests.create_cache(
            services,
            tenant=tenant,
            name=body.name,
            memory_mb=body.memory_mb,
            persistence=body.persistence,
            tcp=body.tcp,
            actor=caller.actor,
            idempotency_key=idempotency_key,
            scope=caller.scope,
        ),
    )
    return views.Accepted(operation=accepted(response, services, submitter, sub), cache=sub.target)


@tenant_router.get("", responses=ERRORS)
def list_caches(tenant: TenantName, services: ServicesDep, caller: CallerDep) -> views.CacheList:
    """The tenant's live caches (a tenant's token: its own tenant only)."""
    with services.store.unit_of_work() as uow:
        owner = tenants(uow).live_or_404(tenant, caller.scope)
        rows = caches(uow).of_tenant(owner.id)
        return views.CacheList(items=[views.summary(r, owner) for r in rows])


@router.get("/{cache}", responses=ERRORS)
def show_cache(cache: CacheName, services: ServicesDep, caller: CallerDep) -> views.CacheDetail:
    """Status, its socket, its users (never a password), recent events."""
    with services.store.unit_of_work() as uow:
        row = caches(uow).live_or_404(cache, caller.scope)
        tenant = tenants(uow).get(row.tenant_id)
        return views.detail(
            row,
            tenant,
            users(uow).of_cache(row.id),
            _where(services, tenant, row),
            list(uow.events.recent(KIND, row.id, limit=20)),
            uow.operations.latest_for(row.id),
        )


@router.delete("/{cache}", status_code=202, responses=ERRORS)
def delete_cache(
    cache: CacheName,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> views.Accepted:
    """The instance stopped, its files and socket removed, its users with it; audited
    (refusals too)."""
    try:
        sub = requests.delete_cache(
            services,
            name=cache,
            actor=caller.actor,
            scope=caller.scope,
            idempotency_key=idempotency_key,
        )
    except (ConflictError, ValidationError) as exc:
        requests.audit_refusal(
            services, actor=caller.actor, name=cache, reason=str(exc), scope=caller.scope
        )
        raise
    return views.Accepted(operation=accepted(response, services, submitter, sub), cache=sub.target)


@router.post("/{cache}/retry", status_code=202, responses=ERRORS)
def retry_cache(
    cache: CacheName,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    caller: CallerDep,
) -> views.Accepted:
    sub = requests.retry_cache(services, name=cache, actor=caller.actor, scope=caller.scope)
    return views.Accepted(operation=accepted(response, services, submitter, sub), cache=sub.target)


@router.post("/{cache}/reassign", status_code=202, responses=ERRORS)
def reassign_cache(
    cache: CacheName,
    body: views.CacheReassign,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> views.Reassigned:
    """Move the cache to another tenant (the operator's token only): its instance name changes
    to the new tenant's (`to`), its ACL users (the old tenant's) are deleted and their
    connections cut, its data moves with it and it runs as the new tenant's user on a socket
    in the new tenant's home; counted against the new tenant's plan."""
    sub = retrying(
        idempotency_key,
        lambda: reassign.reassign_cache(
            services, name=cache, tenant=body.tenant, actor=actor, idempotency_key=idempotency_key
        ),
    )
    with services.store.unit_of_work() as uow:
        assert sub.operation_id is not None
        op = uow.operations.get(sub.operation_id)
        to = str((op.options or {}).get("to")) if op else ""
    return views.Reassigned(
        operation=accepted(response, services, submitter, sub), cache=sub.target, to=to
    )


@router.get("/{cache}/users", responses=ERRORS)
def list_users(cache: CacheName, services: ServicesDep, caller: CallerDep) -> views.UserList:
    """The cache's users with their connection details (never a password)."""
    with services.store.unit_of_work() as uow:
        row = caches(uow).live_or_404(cache, caller.scope)
        where = _where(services, tenants(uow).get(row.tenant_id), row)
        return views.UserList(
            items=[views.user_view(u, where) for u in users(uow).of_cache(row.id)]
        )


@router.post("/{cache}/users", status_code=202, responses=ERRORS)
def create_user(
    cache: CacheName,
    body: views.UserCreate,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> views.UserAccepted:
    """An ACL user allowed only keys and channels under `key_prefix` (an allowlist of data
    commands), with a random password shown in this answer only; usable once the operation
    succeeded. 409 when the cache has a user of that name."""
    made = retrying(
        idempotency_key,
        lambda: requests.create_user(
            services,
            cache=cache,
            name=body.name,
            key_prefix=body.key_prefix,
            actor=caller.actor,
            idempotency_key=idempotency_key,
            scope=caller.scope,
        ),
    )
    sub = made.submitted
    return views.UserAccepted(
        operation=accepted(response, services, submitter, sub),
        cache=cache,
        user=body.name,
        password=made.password,
        connection=views.for_user(_where_of(services, cache), body.name, body.key_prefix),
    )


@router.put("/{cache}/users/{user}", status_code=202, responses=ERRORS)
def update_user(
    cache: CacheName,
    user: UserName,
    body: views.UserUpdate,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> views.UserAccepted:
    """`rotate_password`: a new random password for the ACL user, shown in this answer only
    (applied with `ACL SETUSER`, the old password's sessions cut); until the operation
    succeeded the old one works, and a failed one leaves it so."""
    made = retrying(
        idempotency_key,
        lambda: user_update.update_user(
            services,
            cache=cache,
            name=user,
            actor=caller.actor,
            rotate_password=body.rotate_password,
            idempotency_key=idempotency_key,
            scope=caller.scope,
        ),
    )
    with services.store.unit_of_work() as uow:
        row = users(uow).get_live(made.submitted.target)
        key_prefix = row.key_prefix if row else ""
    return views.UserAccepted(
        operation=accepted(response, services, submitter, made.submitted),
        cache=cache,
        user=user,
        password=made.password,
        connection=views.for_user(_where_of(services, cache), user, key_prefix),
    )


@router.delete("/{cache}/users/{user}", status_code=202, responses=ERRORS)
def delete_user(
    cache: CacheName,
    user: UserName,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> views.Accepted:
    """The ACL user deleted (its connections cut); audited."""
    sub = retrying(
        idempotency_key,
        lambda: requests.delete_user(
            services,
            cache=cache,
            name=user,
            actor=caller.actor,
            scope=caller.scope,
            idempotency_key=idempotency_key,
        ),
    )
    return views.Accepted(operation=accepted(response, services, submitter, sub), cache=cache)
