"""Tenants' databases and their users: create, list, show, delete, retry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

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
from hostplane.errors import ConflictError, HostplaneError, ValidationError
from hostplane.kinds.database import requests, user_requests, views
from hostplane.kinds.database.model import BACKUP_FOLDER, KIND
from hostplane.kinds.database.repo import databases, users
from hostplane.kinds.database.steps import provider
from hostplane.kinds.tenant.repo import tenants
from hostplane.providers.mariadb.tenant_dbs import Endpoint
from hostplane.services import Services

tenant_router = APIRouter(prefix="/v1/tenants/{tenant}/databases", tags=["databases"])
router = APIRouter(prefix="/v1/databases", tags=["databases"])

TenantName = Annotated[str, Path(min_length=1, max_length=32, pattern=views.TENANT_PATTERN)]
DatabaseName = Annotated[str, Path(min_length=4, max_length=64, pattern=views.DATABASE_PATTERN)]
UserName = Annotated[str, Path(min_length=1, max_length=32, pattern=views.USER_NAME_PATTERN)]
ERRORS = errors(401, 403, 404, 409, 422)


def _endpoint(services: Services) -> Endpoint | None:
    """Where clients connect; None while the server cannot be asked (the view still answers)."""
    try:
        return provider(services).endpoint()
    except HostplaneError:
        return None


@tenant_router.post("", status_code=202, responses=ERRORS)
def create_database(
    tenant: TenantName,
    body: views.DatabaseCreate,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> views.Accepted:
    """A MariaDB database of the tenant, marked as this plane's; counted against its plan's
    `databases`. 409 when the tenant has one of that name or is at its limit."""
    sub = retrying(
        idempotency_key,
        lambda: requests.create_database(
            services,
            tenant=tenant,
            name=body.name,
            actor=caller.actor,
            idempotency_key=idempotency_key,
            scope=caller.scope,
        ),
    )
    return views.Accepted(
        operation=accepted(response, services, submitter, sub), database=sub.target
    )


@tenant_router.get("", responses=ERRORS)
def list_databases(
    tenant: TenantName, services: ServicesDep, caller: CallerDep
) -> views.DatabaseList:
    """The tenant's live databases (a tenant's token: its own tenant only)."""
    with services.store.unit_of_work() as uow:
        owner = tenants(uow).live_or_404(tenant, caller.scope)
        rows = databases(uow).of_tenant(owner.id)
        return views.DatabaseList(items=[views.summary(r, owner) for r in rows])


@router.get("/{database}", responses=ERRORS)
def show_database(
    database: DatabaseName, services: ServicesDep, caller: CallerDep
) -> views.DatabaseDetail:
    """Status, connection details, its users (never a password), recent events."""
    endpoint = _endpoint(services)
    with services.store.unit_of_work() as uow:
        row = databases(uow).live_or_404(database, caller.scope)
        return views.detail(
            row,
            tenants(uow).get(row.tenant_id),
            users(uow).of_database(row.id),
            endpoint,
            list(uow.events.recent(KIND, row.id, limit=20)),
            uow.operations.latest_for(row.id),
        )


@router.delete("/{database}", status_code=202, responses=ERRORS)
def delete_database(
    database: DatabaseName,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
    backup: Annotated[
        bool, Query(description="first a gzipped dump into the tenant's private/ folder")
    ] = False,
) -> views.DeleteAccepted:
    """The database and its users dropped from MariaDB; audited (refusals too). With
    `backup=true` a gzipped dump (mariadb-dump) is first written, as the tenant's user, into
    its home's private/ folder; a dump that fails stops the delete before anything is
    dropped."""
    try:
        sub = requests.delete_database(
            services,
            name=database,
            actor=caller.actor,
            scope=caller.scope,
            idempotency_key=idempotency_key,
            backup=backup,
        )
    except (ConflictError, ValidationError) as exc:
        requests.audit_refusal(
            services, actor=caller.actor, name=database, reason=str(exc), scope=caller.scope
        )
        raise
    with services.store.unit_of_work() as uow:
        assert sub.operation_id is not None
        op = uow.operations.get(sub.operation_id)
        dumped = (op.options or {}).get("backup_file") if op else None
    return views.DeleteAccepted(
        operation=accepted(response, services, submitter, sub),
        database=sub.target,
        backup=f"{BACKUP_FOLDER}/{dumped}" if dumped else None,
    )


@router.post("/{database}/retry", status_code=202, responses=ERRORS)
def retry_database(
    database: DatabaseName,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    caller: CallerDep,
) -> views.Accepted:
    sub = requests.retry_database(services, name=database, actor=caller.actor, scope=caller.scope)
    return views.Accepted(
        operation=accepted(response, services, submitter, sub), database=sub.target
    )


@router.post("/{database}/reassign", status_code=202, responses=ERRORS)
def reassign_database(
    database: DatabaseName,
    body: views.DatabaseReassign,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    actor: ActorDep,
    idempotency_key: IdempotencyKey = None,
) -> views.Reassigned:
    """Move the database to another tenant (the operator's token only): its MariaDB name
    changes to the new tenant's (`to`), its tables are renamed across, its users (the old
    tenant's) are dropped in the same operation; counted against the new tenant's plan. A
    database holding views, triggers, routines or events is refused by the operation."""
    sub = retrying(
        idempotency_key,
        lambda: requests.reassign_database(
            services,
            name=database,
            tenant=body.tenant,
            actor=actor,
            idempotency_key=idempotency_key,
        ),
    )
    with services.store.unit_of_work() as uow:
        assert sub.operation_id is not None
        op = uow.operations.get(sub.operation_id)
        to = str((op.options or {}).get("to")) if op else ""
    return views.Reassigned(
        operation=accepted(response, services, submitter, sub), database=sub.target, to=to
    )


@router.post("/{database}/users", status_code=202, responses=ERRORS)
def create_user(
    database: DatabaseName,
    body: views.UserCreate,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> views.UserAccepted:
    """A MariaDB account granted on exactly this database (`all`, or `read`: SELECT, SHOW
    VIEW), with a random password shown in this answer only; usable once the operation
    succeeded. 409 when the tenant has a database user of that name."""
    made = retrying(
        idempotency_key,
        lambda: user_requests.create_user(
            services,
            database=database,
            name=body.name,
            privileges=body.privileges,
            actor=caller.actor,
            idempotency_key=idempotency_key,
            scope=caller.scope,
            password=body.password,
        ),
    )
    return _user_accepted(response, services, submitter, database, made)


def _user_accepted(
    response: Response,
    services: Services,
    submitter: SubmitterDep,
    database: str,
    made: user_requests.UserSubmitted,
) -> views.UserAccepted:
    sub = made.submitted
    return views.UserAccepted(
        operation=accepted(response, services, submitter, sub),
        database=database,
        user=sub.target,
        password=made.password,
        connection=views.connection(_endpoint(services), database, sub.target),
    )


@router.put("/{database}/users/{user}", status_code=202, responses=ERRORS)
def update_user(
    database: DatabaseName,
    user: UserName,
    body: views.UserUpdate,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> views.UserAccepted:
    """New privileges and/or a new password: `rotate_password` makes a random one, shown in
    this answer only; `password` sets your own (checked for strength, never shown back). The
    account keeps its old ones until the operation succeeded; a failed one leaves it as it
    was. `user`: the name the tenant gave."""
    made = retrying(
        idempotency_key,
        lambda: user_requests.update_user(
            services,
            database=database,
            name=user,
            actor=caller.actor,
            privileges=body.privileges,
            rotate_password=body.rotate_password,
            password=body.password,
            idempotency_key=idempotency_key,
            scope=caller.scope,
        ),
    )
    return _user_accepted(response, services, submitter, database, made)


@router.delete("/{database}/users/{user}", status_code=202, responses=ERRORS)
def delete_user(
    database: DatabaseName,
    user: UserName,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> views.Accepted:
    """The account dropped (with its grants); audited. `user`: the name the tenant gave."""
    sub = retrying(
        idempotency_key,
        lambda: user_requests.delete_user(
            services,
            database=database,
            name=user,
            actor=caller.actor,
            scope=caller.scope,
            idempotency_key=idempotency_key,
        ),
    )
    return views.Accepted(operation=accepted(response, services, submitter, sub), database=database)
