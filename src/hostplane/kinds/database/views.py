"""A database's and a database user's API bodies and the views built from their rows. A
password appears only in the answer to a user's creation (UserAccepted), never in a view."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from hostplane.api.schemas import EventView, OperationRef, RequestBody, hinted
from hostplane.api.views import event_views, operation_ref
from hostplane.kernel.store.tables import OperationRow, StatusEventRow
from hostplane.kinds.database.model import (
    DATABASE_NAME_HINT,
    DATABASE_NAME_MAX,
    NAME_PATTERN,
    PASSWORD_HINT,
    PASSWORD_MAX,
    USER_NAME_HINT,
    USER_NAME_MAX,
    Privileges,
)
from hostplane.kinds.database.table import DatabaseRow, DatabaseUserRow
from hostplane.kinds.tenant.model import TENANT_LABEL_PATTERN
from hostplane.kinds.tenant.table import TenantRow
from hostplane.providers.mariadb.tenant_dbs import Endpoint

TENANT_PATTERN = hinted(TENANT_LABEL_PATTERN, "1-32 lowercase letters, digits, hyphens")
DATABASE_PATTERN = hinted(
    r"^(?:tdb_[a-z0-9_]{1,60}|wp_[a-z0-9_]{1,61})$",
    "the database's MariaDB name (tdb_…, or wp_… for a WordPress site's)",
)
DB_NAME_PATTERN = hinted(NAME_PATTERN, DATABASE_NAME_HINT)
USER_NAME_PATTERN = hinted(NAME_PATTERN, USER_NAME_HINT)


class DatabaseCreate(RequestBody):
    name: str = Field(
        min_length=1,
        max_length=DATABASE_NAME_MAX,
        pattern=DB_NAME_PATTERN,
        description=DATABASE_NAME_HINT,
    )


class UserCreate(RequestBody):
    name: str = Field(
        min_length=1,
        max_length=USER_NAME_MAX,
        pattern=USER_NAME_PATTERN,
        description=USER_NAME_HINT,
    )
    privileges: Literal["all", "read"] = Field(
        default=Privileges.ALL.value,
        description="all: every right on the database; read: SELECT and SHOW VIEW",
    )
    password: str | None = Field(
        default=None,
        max_length=PASSWORD_MAX,
        description=f"your own password instead of a random one: {PASSWORD_HINT}",
    )


class DatabaseReassign(RequestBody):
    tenant: str = Field(
        min_length=1, max_length=32, pattern=TENANT_PATTERN, description="the tenant it moves to"
    )


class UserUpdate(RequestBody):
    """At least one of: new privileges, a new random password, your own password."""

    privileges: Literal["all", "read"] | None = Field(
        default=None, description="all: every right on the database; read: SELECT and SHOW VIEW"
    )
    rotate_password: bool = Field(
        default=False, description="a new random password, shown once in the answer"
    )
    password: str | None = Field(
        default=None,
        max_length=PASSWORD_MAX,
        description=f"your own new password (never shown back): {PASSWORD_HINT}",
    )


class Connection(BaseModel):
    """How a client connects (the account is bound to localhost: the socket, or localhost)."""

    host: str | None
    port: int | None
    socket: str | None
    database: str
    user: str | None = None


class Accepted(BaseModel):
    operation: OperationRef
    database: str


class DeleteAccepted(Accepted):
    backup: str | None = Field(
        default=None,
        description="with backup=true: where the gzipped dump is written, below the tenant's "
        "home (private/…); the delete goes on only once it is written and tested",
    )


class Reassigned(Accepted):
    to: str = Field(description="its MariaDB name under the new tenant (its handle once moved)")


class UserAccepted(BaseModel):
    operation: OperationRef
    database: str
    user: str = Field(description="the MariaDB account")
    password: str | None = Field(
        description="a random password, shown this once (None when an Idempotency-Key "
        "replayed the request, when the password was your own, or when it did not change): "
        "the control plane never shows it again"
    )
    connection: Connection


class UserView(BaseModel):
    name: str
    user: str = Field(description="the MariaDB account")
    privileges: str
    status: str
    last_error: str | None
    connection: Connection


class DatabaseSummary(BaseModel):
    name: str = Field(description="the MariaDB database (its handle in /v1/databases/…)")
    label: str = Field(description="the name the tenant gave it (a site's database: the site's)")
    tenant: str
    site: str | None = Field(
        default=None,
        description="the WordPress site whose database it is (made, removed and counted with "
        "the site; the tenant may add its own users to it), or null",
    )
    status: str
    created_at: datetime
    updated_at: datetime


class DatabaseDetail(DatabaseSummary):
    last_error: str | None
    connection: Connection
    users: list[UserView]
    operation: OperationRef | None
    events: list[EventView]


class DatabaseList(BaseModel):
    items: list[DatabaseSummary]


def connection(endpoint: Endpoint | None, database: str, user: str | None = None) -> Connection:
    return Connection(
        host=endpoint.host if endpoint else None,
        port=endpoint.port if endpoint else None,
        socket=endpoint.socket if endpoint else None,
        database=database,
        user=user,
    )


def summary(row: DatabaseRow, tenant: TenantRow | None) -> DatabaseSummary:
    return DatabaseSummary(
        name=row.name,
        label=row.label,
        tenant=tenant.name if tenant else "?",
        site=row.site,
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def user_view(user: DatabaseUserRow, database: str, endpoint: Endpoint | None) -> UserView:
    return UserView(
        name=user.label,
        user=user.name,
        privileges=user.privileges,
        status=user.status,
        last_error=user.last_error,
        connection=connection(endpoint, database, user.name),
    )


def detail(
    row: DatabaseRow,
    tenant: TenantRow | None,
    users: Sequence[DatabaseUserRow],
    endpoint: Endpoint | None,
    events: Sequence[StatusEventRow],
    op: OperationRow | None,
) -> DatabaseDetail:
    return DatabaseDetail(
        **summary(row, tenant).model_dump(),
        last_error=row.last_error,
        connection=connection(endpoint, row.name),
        users=[user_view(u, row.name, endpoint) for u in users],
        operation=operation_ref(op) if op else None,
        events=event_views(events),
    )
