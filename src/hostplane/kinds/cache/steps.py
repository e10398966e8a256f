"""What each step of a cache's and a cache user's sagas does, and how it is undone. A step
re-reads what it needs from the state database (the tenant, a password, sealed) and calls the
Redis provider; every action is idempotent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hostplane.errors import NotFoundError, PermanentError
from hostplane.kernel.outcome import Outcome
from hostplane.kernel.steps import Options, StepDef
from hostplane.kinds.cache.model import CacheStatus, Step, socket_path
from hostplane.kinds.cache.repo import caches, users
from hostplane.kinds.cache.table import CacheRow, CacheUserRow
from hostplane.kinds.tenant.model import system_user
from hostplane.kinds.tenant.repo import tenants
from hostplane.kinds.tenant.table import TenantRow
from hostplane.providers.redis.acl import RedisAcl
from hostplane.providers.redis.config import InstanceSpec, Persistence
from hostplane.providers.redis.instances import RedisInstances
from hostplane.services import Services

S = CacheStatus
SECRET_OWNER = "cache-user"
PASSWORD = "password"
# An update's new password, sealed until the update succeeded (then it is PASSWORD).
NEXT_PASSWORD = "password-next"


def provider(services: Services) -> RedisInstances:
    if services.caches is None:
        raise PermanentError("this control plane has no cache provider (Redis) configured")
    return services.caches


def acl(services: Services) -> RedisAcl:
    if services.cache_acl is None:
        raise PermanentError("this control plane has no cache provider (Redis) configured")
    return services.cache_acl


def home(services: Services, tenant: str) -> Path:
    if services.accounts is None:
        raise PermanentError("this control plane has no tenant accounts: caches need homes")
    return services.accounts.home(tenant)


def spec_of(services: Services, row: CacheRow, tenant: TenantRow) -> InstanceSpec:
    """The instance as the state database says: run as the tenant's user, its socket in the
    tenant's home, its memory and persistence as asked."""
    user = system_user(tenant.name)
    persistence: Persistence = "aof" if row.persistence == "aof" else "none"
    return InstanceSpec(
        name=row.name,
        user=user,
        group=user,
        socket=Path(socket_path(home(services, tenant.name), row.label)),
        maxmemory_mb=row.memory_mb,
        persistence=persistence,
        port=row.port or 0,
    )


def spec(services: Services, row: CacheRow) -> InstanceSpec:
    with services.store.unit_of_work() as uow:
        tenant = tenants(uow).get(row.tenant_id)
        assert tenant is not None
        return spec_of(services, row, tenant)


def password(services: Services, user_id: str, name: str = PASSWORD) -> str:
    with services.store.unit_of_work() as uow:
        sealed = uow.secrets.get(SECRET_OWNER, user_id, name)
    if sealed is None:
        raise PermanentError(f"the {name} of cache user {user_id} is gone from the store")
    return services.secrets.open(sealed)


def served_as(services: Services, user: CacheUserRow) -> tuple[str, bool]:
    """The user's instance, and whether it is to be on (off while its tenant is suspended)."""
    with services.store.unit_of_work() as uow:
        cache = caches(uow).get(user.cache_id)
        tenant = tenants(uow).get(user.tenant_id)
        assert cache is not None and tenant is not None
        return cache.name, tenant.suspension is None


def ensure_user(services: Services, user: CacheUserRow, secret_name: str = PASSWORD) -> Outcome:
    """The ACL user with its stored password (or the sealed secret `secret_name`) and key
    prefix, on (or off while its tenant is suspended); a login as that user proves an enabled
    one (invariant 6). A changed password cuts the sessions of the old one."""
    instance, enabled = served_as(services, user)
    secret = password(services, user.id, secret_name)
    redis_acl = acl(services)
    outcome = redis_acl.ensure_user(instance, user.label, secret, user.key_prefix, enabled=enabled)
    if enabled:
        redis_acl.check_login(instance, user.label, secret)
    return outcome


def _instance(services: Services, row: CacheRow, options: Options) -> Outcome:
    return provider(services).ensure(spec(services, row))


def _remove_instance(services: Services, row: CacheRow, options: Options) -> Outcome:
    return provider(services).remove(row.name)


def _user(services: Services, user: CacheUserRow, options: Options) -> Outcome:
    return ensure_user(services, user)


def _change_user(services: Services, user: CacheUserRow, options: Options) -> Outcome:
    return ensure_user(services, user, NEXT_PASSWORD)


def _remove_user(services: Services, user: CacheUserRow, options: Options) -> Outcome:
    instance, _ = served_as(services, user)
    try:
        return acl(services).remove_user(instance, user.label)
    except NotFoundError:
        return Outcome.ABSENT  # the instance is gone, and its users with it


def _users_of(services: Services, row: CacheRow) -> list[CacheUserRow]:
    with services.store.unit_of_work() as uow:
        return list(users(uow).of_cache(row.id))


def _remove_users(services: Services, row: CacheRow, options: Options) -> Outcome:
    """A reassign's first step: the old tenant's ACL users deleted (their connections cut),
    a FAILED one's too (it may have been made)."""
    redis_acl = acl(services)
    outcomes = [redis_acl.remove_user(row.name, u.label) for u in _users_of(services, row)]
    return Outcome.DELETED if Outcome.DELETED in outcomes else Outcome.ABSENT


def _restore_users(services: Services, row: CacheRow, options: Options) -> Outcome:
    """The old tenant's ACTIVE ACL users made again with their sealed passwords (a failed
    reassign)."""
    active = [u for u in _users_of(services, row) if u.status == S.ACTIVE]
    outcomes = [ensure_user(services, u) for u in active]
    return Outcome.UPDATED if any(o.changed for o in outcomes) else Outcome.UNCHANGED


def _target(services: Services, options: Options) -> InstanceSpec:
    """A reassign's new instance, as its new row (`to_id`) and the new tenant render it."""
    with services.store.unit_of_work() as uow:
        moved = caches(uow).get(str(options["to_id"]))
        assert moved is not None, options
        tenant = tenants(uow).get(moved.tenant_id)
        assert tenant is not None
        return spec_of(services, moved, tenant)


def _started(services: Services, target: InstanceSpec) -> Outcome:
    """Started on its moved data; the snapshot a memory-only one was moved in then dropped."""
    instances = provider(services)
    outcome = instances.ensure(target)
    instances.drop_snapshot(target.name)
    return outcome


def _move(services: Services, row: CacheRow, options: Options) -> Outcome:
    return provider(services).relocate(row.name, _target(services, options))


def _move_back(services: Services, row: CacheRow, options: Options) -> Outcome:
    """The instance back under its old name and tenant, running (its users follow)."""
    home = spec(services, row)
    provider(services).relocate(_target(services, options).name, home)
    return _started(services, home)


def _start(services: Services, row: CacheRow, options: Options) -> Outcome:
    return _started(services, _target(services, options))


STEPS: tuple[StepDef[Any], ...] = (
    StepDef(Step.INSTANCE, _instance, _remove_instance, "the supervised Redis instance"),
    StepDef(Step.USER, _user, _remove_user, "the ACL user, allowed only its key prefix"),
    # Undone by the user as the row has it: a failed update leaves the old password working.
    StepDef(Step.USER_CHANGE, _change_user, _user, "the ACL user's new password"),
    StepDef(
        Step.REASSIGN_USERS, _remove_users, _restore_users, "the old tenant's ACL users deleted"
    ),
    StepDef(Step.REASSIGN_MOVE, _move, _move_back, "the instance's data moved to the new tenant"),
    # Undone by the move's undo (which stops it where it is and moves it back).
    StepDef(Step.REASSIGN_START, _start, None, "the instance started as the new tenant's user"),
)
BY_NAME = {step.name: step for step in STEPS}
