"""What a tenant's cache and its users are (pure): lifecycles, operations and steps, name
rules, and the instance name derived from (tenant, name).

A cache is a Redis instance of its own, run as its tenant's system user, reached over a unix
socket in the tenant's home. Its instance name is derived one-to-one from (tenant, name):

    tc-<len(tenant)>-<tenant>-<name>        (at most 63 characters, the provider's limit)

The decimal length says where the tenant ends, so `tc-1-a-b-c` (tenant a, cache b-c) and
`tc-3-a-b-c` (tenant a-b, cache c) differ. A cache user is an ACL user of that one instance,
named as the tenant asked (its handle: `<instance>/<user>`), allowed only its key prefix.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from pathlib import PurePath

from hostplane.errors import ConflictError, ValidationError
from hostplane.kernel.lifecycle import RESOURCE_TRANSITIONS, Lifecycle, ResourceStatus

KIND = "cache"
USER_KIND = "cache-user"
PARENT = "tenant"

PREFIX = "tc-"
NAME_MAX = 24  # tc-32-<32-char tenant>-<24> = 63, the provider's instance name limit
INSTANCE_MAX = 63
NAME_PATTERN = r"^[a-z](?:[a-z0-9-]{0,22}[a-z0-9])?$"
NAME_HINT = (
    f"1-{NAME_MAX} lowercase letters, digits and hyphens, starting with a letter, not ending "
    "with a hyphen"
)
USER_NAME_MAX = 32
RESERVED_USERS = frozenset({"default", "hostplane"})  # Redis's, and the control plane's admin
USER_NAME_PATTERN = "^(?!(?:" + "|".join(sorted(RESERVED_USERS)) + ")$)[a-z][a-z0-9_-]{0,31}$"
USER_NAME_HINT = (
    f"1-{USER_NAME_MAX} lowercase letters, digits, '_' and '-', starting with a letter; not "
    f"{' or '.join(sorted(RESERVED_USERS))}"
)
KEY_PREFIX_MAX = 64
KEY_PREFIX_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$"
KEY_PREFIX_HINT = (
    f"1-{KEY_PREFIX_MAX} of letters, digits and _ . : / -, starting with a letter or digit "
    "(no glob characters: * ? [ ] are refused)"
)
MEMORY_MIN_MB = 4
PERSISTENCE = ("none", "aof")
LOOPBACK = "127.0.0.1"  # where a cache asked with tcp listens (the provider binds only it)
SOCKET_MAX = 107  # a unix socket path's bytes (sun_path is 108 with its NUL)
_NAME = re.compile(NAME_PATTERN)
_USER = re.compile(USER_NAME_PATTERN)
_PREFIX = re.compile(KEY_PREFIX_PATTERN)
_TENANT = re.compile(r"^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$")


CacheStatus = ResourceStatus  # the lifecycle most resources share (kernel)
S = CacheStatus
LIFECYCLE = Lifecycle(KIND, RESOURCE_TRANSITIONS)
USER_LIFECYCLE = Lifecycle(USER_KIND, RESOURCE_TRANSITIONS)
DELETABLE = frozenset({S.ACTIVE, S.FAILED})
# What the host must run (the reconciler repairs instances and users of these).
SERVED = frozenset({S.ACTIVE})


class CacheOp(enum.StrEnum):
    CREATE = "cache-create"
    RETRY = "cache-retry"
    DELETE = "cache-delete"
    REPAIR = "cache-repair"  # a reconcile restarting an instance or rewriting its config
    USER_CREATE = "cache-user-create"
    USER_DELETE = "cache-user-delete"
    USER_UPDATE = "cache-user-update"  # a new random password
    USER_REPAIR = "cache-user-repair"  # a reconcile putting an ACL user back
    REASSIGN = "cache-reassign"  # moved to another tenant (a new instance name), its users gone


USER_OPS = frozenset(
    {CacheOp.USER_CREATE, CacheOp.USER_DELETE, CacheOp.USER_UPDATE, CacheOp.USER_REPAIR}
)


class Step(enum.StrEnum):
    INSTANCE = "cache-instance"  # the supervised redis-server, its config, socket and admin
    USER = "cache-user"  # the ACL user: its password, its key prefix, on or off
    USER_CHANGE = "cache-user-change"  # an update: the user's new password
    # A reassign, in order: the old tenant's ACL users deleted (their connections cut), the
    # instance stopped and its directory and data moved to the new name and the new tenant's
    # user, then started as that user on its new socket.
    REASSIGN_USERS = "cache-reassign-users"
    REASSIGN_MOVE = "cache-reassign-move"
    REASSIGN_START = "cache-reassign-start"


def create_plan() -> tuple[Step, ...]:
    return (Step.INSTANCE,)


def delete_plan() -> tuple[Step, ...]:
    """The instance stopped and its files removed (its ACL users go with it)."""
    return (Step.INSTANCE,)


def reassign_plan() -> tuple[Step, ...]:
    return (Step.REASSIGN_USERS, Step.REASSIGN_MOVE, Step.REASSIGN_START)


def user_plan() -> tuple[Step, ...]:
    return (Step.USER,)


def update_plan() -> tuple[Step, ...]:
    """Its undo puts back the user as the row still has it (its sealed password)."""
    return (Step.USER_CHANGE,)


def validate_name(raw: str) -> str:
    if not isinstance(raw, str) or len(raw) > NAME_MAX or not _NAME.fullmatch(raw):
        raise ValidationError(f"cache name {raw!r} is not valid: use {NAME_HINT}")
    return raw


def validate_user_name(raw: str) -> str:
    if isinstance(raw, str) and raw in RESERVED_USERS:
        raise ValidationError(f"cache user name {raw!r} is kept by the platform: choose another")
    if not isinstance(raw, str) or not _USER.fullmatch(raw):
        raise ValidationError(f"cache user name {raw!r} is not valid: use {USER_NAME_HINT}")
    return raw


def validate_key_prefix(raw: str) -> str:
    if not isinstance(raw, str) or not _PREFIX.fullmatch(raw):
        raise ValidationError(f"key prefix {raw!r} is not valid: use {KEY_PREFIX_HINT}")
    return raw


def validate_memory(raw: int, most: int) -> int:
    """`memory_mb` within [MEMORY_MIN_MB, most] (the plane's largest cache)."""
    if isinstance(raw, bool) or not isinstance(raw, int) or not MEMORY_MIN_MB <= raw <= most:
        raise ValidationError(
            f"memory_mb {raw!r} is out of bounds: use a whole number of MB from "
            f"{MEMORY_MIN_MB} to {most}"
        )
    return raw


def validate_persistence(raw: str) -> str:
    if raw not in PERSISTENCE:
        raise ValidationError(
            f"persistence {raw!r} is not valid: use 'none' (memory only) or 'aof' "
            "(an append-only file, kept across restarts)"
        )
    return raw


def free_port(ports: str, taken: Iterable[int]) -> int:
    """The lowest port of the range `first-last` (HOSTPLANE_CACHE_PORTS) no live cache has;
    ConflictError when every one is taken."""
    first, _, last = ports.partition("-")
    used = set(taken)
    for port in range(int(first), int(last) + 1):
        if port not in used:
            return port
    raise ConflictError(
        f"every loopback port for caches ({ports}, HOSTPLANE_CACHE_PORTS) is taken: ask "
        "without tcp (the unix socket), or ask the operator for a larger range"
    )


def instance_name(tenant: str, name: str) -> str:
    """The Redis instance of the tenant's cache `name`: one-to-one, at most 63 characters."""
    if not _TENANT.fullmatch(tenant or ""):
        raise ValidationError(f"tenant {tenant!r} is not a tenant name")
    result = f"{PREFIX}{len(tenant)}-{tenant}-{validate_name(name)}"
    assert len(result) <= INSTANCE_MAX, result
    return result


def parse_instance(instance: str) -> tuple[str, str] | None:
    """(tenant, name) of a derived instance name; None when it is not one (the inverse of
    instance_name, which proves it one-to-one)."""
    if not instance.startswith(PREFIX):
        return None
    digits, sep, rest = instance[len(PREFIX) :].partition("-")
    if not sep or not digits.isdigit() or digits != str(int(digits)):
        return None
    n = int(digits)
    if len(rest) < n + 2 or rest[n] != "-":
        return None
    tenant, name = rest[:n], rest[n + 1 :]
    if not _TENANT.fullmatch(tenant) or not _NAME.fullmatch(name) or len(name) > NAME_MAX:
        return None
    return tenant, name


def user_handle(instance: str, user: str) -> str:
    """A cache user's handle (its operation slot): `<instance>/<user>`."""
    return f"{instance}/{user}"


def socket_path(home: PurePath, name: str) -> PurePath:
    """Where a cache's socket is: the tenant's `private/` folder (its user's alone, 0700),
    so only the tenant's own processes reach it. ValidationError past a socket's length."""
    path = home / "private" / f"cache-{name}.sock"
    if len(str(path).encode()) > SOCKET_MAX:
        raise ValidationError(
            f"the socket path {path} is over {SOCKET_MAX} bytes: choose a shorter cache name"
        )
    return path
