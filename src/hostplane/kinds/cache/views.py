"""A cache's and a cache user's API bodies and the views built from their rows. A password
appears only in the answer to a user's creation (UserAccepted), never in a view."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from hostplane.api.schemas import EventView, OperationRef, RequestBody, hinted
from hostplane.api.views import event_views, operation_ref
from hostplane.kernel.store.tables import OperationRow, StatusEventRow
from hostplane.kinds.cache.model import (
    KEY_PREFIX_HINT,
    KEY_PREFIX_MAX,
    KEY_PREFIX_PATTERN,
    MEMORY_MIN_MB,
    NAME_HINT,
    NAME_MAX,
    NAME_PATTERN,
    USER_NAME_HINT,
    USER_NAME_MAX,
    USER_NAME_PATTERN,
)
from hostplane.kinds.cache.table import CacheRow, CacheUserRow
from hostplane.kinds.tenant.model import TENANT_LABEL_PATTERN
from hostplane.kinds.tenant.table import TenantRow

TENANT_PATTERN = hinted(TENANT_LABEL_PATTERN, "1-32 lowercase letters, digits, hyphens")
CACHE_PATTERN = hinted(r"^tc-[0-9]{1,2}-[a-z0-9-]{3,57}$", "the cache's instance name (tc-…)")
CACHE_NAME_PATTERN = hinted(NAME_PATTERN, NAME_HINT)
USER_PATTERN = hinted(USER_NAME_PATTERN, USER_NAME_HINT)
# A path's user (pydantic's own regex engine for paths has no look-ahead): the names only.
USER_PATH_PATTERN = hinted(r"^[a-z][a-z0-9_-]{0,31}$", "the user's name")
PREFIX_PATTERN = hinted(KEY_PREFIX_PATTERN, KEY_PREFIX_HINT)


class CacheCreate(RequestBody):
    name: str = Field(
        min_length=1, max_length=NAME_MAX, pattern=CACHE_NAME_PATTERN, description=NAME_HINT
    )
    memory_mb: int = Field(
        ge=MEMORY_MIN_MB,
        description=f"its maxmemory, from {MEMORY_MIN_MB} MB to the plane's largest "
        "(HOSTPLANE_CACHE_MAX_MEMORY_MB); writes past it are refused (noeviction)",
    )
    persistence: Literal["none", "aof"] = Field(
        default="none",
        description="none: memory only; aof: an append-only file, kept across restarts",
    )
    tcp: bool = Field(
        default=False,
        description="also a TCP port on 127.0.0.1 (from HOSTPLANE_CACHE_PORTS), for clients "
        "that cannot use a unix socket. Any local user can reach a loopback port: the ACL "
        "passwords are then the only barrier (the default user stays off)",
    )


class UserCreate(RequestBody):
    name: str = Field(
        min_length=1, max_length=USER_NAME_MAX, pattern=USER_PATTERN, description=USER_NAME_HINT
    )
    key_prefix: str = Field(
        min_length=1,
        max_length=KEY_PREFIX_MAX,
        pattern=PREFIX_PATTERN,
        description="the only keys (and pub/sub channels) the user may touch: those starting "
        f"with it; {KEY_PREFIX_HINT}",
    )


class UserUpdate(RequestBody):
    """The one change a cache user has: a new random password (true is the only value)."""

    rotate_password: Literal[True] = Field(
        description="true: a new random password, shown once in the answer; the old one stops "
        "working (its open sessions are cut) once the operation succeeded",
    )


class CacheReassign(RequestBody):
    tenant: str = Field(
        min_length=1, max_length=32, pattern=TENANT_PATTERN, description="the tenant it moves to"
    )


class Connection(BaseModel):
    """How a client connects: the instance's unix socket (its tenant's processes only), and a
    loopback port if the cache was made with `tcp`."""

    socket: str | None
    host: str | None = Field(default=None, description="127.0.0.1 with a port, else None")
    port: int | None = Field(
        default=None,
        description="its TCP port on 127.0.0.1 (made with tcp): any local user can reach it, "
        "so its users' passwords are then the only barrier (the default user stays off)",
    )
    user: str | None = None
    key_prefix: str | None = None


class Accepted(BaseModel):
    operation: OperationRef
    cache: str


class Reassigned(Accepted):
    to: str = Field(description="its instance name under the new tenant (its handle once moved)")


class UserAccepted(BaseModel):
    operation: OperationRef
    cache: str
    user: str = Field(description="the ACL user")
    password: str | None = Field(
        description="shown this once (None when an Idempotency-Key replayed the request): the "
        "control plane never shows it again"
    )
    connection: Connection


class UserView(BaseModel):
    name: str = Field(description="the ACL user")
    key_prefix: str
    status: str
    last_error: str | None
    connection: Connection


class UserList(BaseModel):
    items: list[UserView]


class CacheSummary(BaseModel):
    name: str = Field(description="the Redis instance (its handle in /v1/caches/…)")
    label: str = Field(description="the name the tenant gave it")
    tenant: str
    memory_mb: int
    persistence: str
    port: int | None = Field(
        description="its TCP port on 127.0.0.1 (made with tcp; None: the unix socket only); "
        "any local user can reach a loopback port: the ACL passwords are then the only barrier"
    )
    status: str
    created_at: datetime
    updated_at: datetime


class CacheDetail(CacheSummary):
    last_error: str | None
    connection: Connection
    users: list[UserView]
    operation: OperationRef | None
    events: list[EventView]


class CacheList(BaseModel):
    items: list[CacheSummary]


def summary(row: CacheRow, tenant: TenantRow | None) -> CacheSummary:
    return CacheSummary(
        name=row.name,
        label=row.label,
        tenant=tenant.name if tenant else "?",
        memory_mb=row.memory_mb,
        persistence=row.persistence,
        port=row.port,
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def for_user(where: Connection, user: str, key_prefix: str) -> Connection:
    return where.model_copy(update={"user": user, "key_prefix": key_prefix})


def user_view(user: CacheUserRow, where: Connection) -> UserView:
    return UserView(
        name=user.label,
        key_prefix=user.key_prefix,
        status=user.status,
        last_error=user.last_error,
        connection=for_user(where, user.label, user.key_prefix),
    )


def detail(
    row: CacheRow,
    tenant: TenantRow | None,
    users: Sequence[CacheUserRow],
    where: Connection,
    events: Sequence[StatusEventRow],
    op: OperationRow | None,
) -> CacheDetail:
    return CacheDetail(
        **summary(row, tenant).model_dump(),
        last_error=row.last_error,
        connection=where,
        users=[user_view(u, where) for u in users],
        operation=operation_ref(op) if op else None,
        events=event_views(events),
    )
