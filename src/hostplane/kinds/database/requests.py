"""Recording a database's intent (create, delete, retry, reassign): the row and its operation
in one transaction; the API submits the operation after the commit. A database user's:
user_requests.py."""

from __future__ import annotations

from functools import partial

from hostplane.errors import ConflictError
from hostplane.kernel.operations import Submitted, refuse_if_busy, replay, request_hash, submit
from hostplane.kernel.store.types import utcnow
from hostplane.kernel.transition import record_created
from hostplane.kinds.database.lifecycle import audit
from hostplane.kinds.database.model import (
    DELETABLE,
    KIND,
    LIFECYCLE,
    USER_KIND,
    DatabaseOp,
    DatabaseStatus,
    backup_file,
    database_identifier,
    validate_name,
)
from hostplane.kinds.database.repo import databases, users
from hostplane.kinds.database.site_databases import refuse_site_database
from hostplane.kinds.database.table import DatabaseRow
from hostplane.kinds.tenant.model import Limit, TenantStatus
from hostplane.kinds.tenant.moves import MovedKind, check_move
from hostplane.kinds.tenant.repo import tenants
from hostplane.kinds.tenant.requests import check_usage
from hostplane.services import Services

_database_op = partial(submit, KIND)
S = DatabaseStatus
MOVED = MovedKind("database", KIND, USER_KIND)


def create_database(
    services: Services,
    *,
    tenant: str,
    name: str,
    actor: str,
    idempotency_key: str | None,
    scope: str | None = None,
) -> Submitted:
    name = validate_name(name)
    fingerprint = request_hash({"op": DatabaseOp.CREATE, "name": name, "tenant": tenant})
    with services.store.unit_of_work() as uow:
        replayed = replay(uow, idempotency_key, fingerprint)
        if replayed:
            return replayed
        owner = tenants(uow).live_or_404(tenant, scope)
        if owner.status != TenantStatus.ACTIVE:
            raise ConflictError(
                f"tenant {tenant!r} is {owner.status}: databases are added to ACTIVE tenants only"
            )
        identifier = database_identifier(owner.name, name)
        existing = databases(uow).get_live(identifier)
        if existing is not None:
            raise ConflictError(
                f"tenant {tenant!r} has a database {name!r} already ({identifier}, "
                f"status {existing.status})"
            )
        refuse_if_busy(uow, KIND, identifier)
        check_usage(uow, owner, Limit.DATABASES, databases(uow).count_of_tenant(owner.id))
        tenants(uow).touch(owner)  # two creates of one tenant at once: the second is a 409
        row = databases(uow).add(
            DatabaseRow(tenant_id=owner.id, label=name, name=identifier, status=S.PENDING)
        )
        uow.flush()
        sub = _database_op(uow, row, DatabaseOp.CREATE, actor, idempotency_key, fingerprint)
        record_created(
            uow, LIFECYCLE, row, reason="requested", actor=actor, operation_id=sub.operation_id
        )
        return sub


def delete_database(
    services: Services,
    *,
    name: str,
    actor: str,
    scope: str | None = None,
    idempotency_key: str | None = None,
    backup: bool = False,
) -> Submitted:
    """The database dropped with every user of it; audited. With `backup`, first dumped
    (gzipped) into the tenant's private/ folder: a dump that fails stops the delete."""
    fingerprint = request_hash({"op": DatabaseOp.DELETE, "name": name, "backup": backup})
    with services.store.unit_of_work() as uow:
        replayed = replay(uow, idempotency_key, fingerprint)
        if replayed:
            return replayed
        row = databases(uow).live_or_404(name, scope)
        refuse_site_database(
            row,
            f"delete the site to remove it (DELETE /v1/sites/{row.site}), or delete only the "
            "users you added to it",
        )
        refuse_if_busy(uow, KIND, name)
        if row.status not in DELETABLE:
            raise ConflictError(
                f"database {name!r} is {row.status}: only ACTIVE or FAILED databases are deleted"
            )
        for user in users(uow).of_database(row.id):
            refuse_if_busy(uow, USER_KIND, user.name)
            users(uow).touch(user)
        databases(uow).touch(row)
        options = {"backup_file": backup_file(row.name, utcnow())} if backup else {}
        sub = _database_op(
            uow, row, DatabaseOp.DELETE, actor, idempotency_key, fingerprint, **options
        )
        reason = f"database is {row.status}" + (f", dumped to {options}" if backup else "")
        audit(uow, actor, row, "database.delete", reason, sub.operation_id)
        return sub


def retry_database(
    services: Services, *, name: str, actor: str, scope: str | None = None
) -> Submitted:
    with services.store.unit_of_work() as uow:
        row = databases(uow).live_or_404(name, scope)
        refuse_site_database(
            row, f"retry the site (POST /v1/sites/{row.site}/retry), which makes its database"
        )
        refuse_if_busy(uow, KIND, name)
        if row.status != S.FAILED:
            raise ConflictError(f"database {name!r} is {row.status}: only FAILED ones are retried")
        last = uow.operations.latest_for(row.id)
        if last is not None and last.kind == DatabaseOp.DELETE:
            # its options too: a delete asked with a backup is retried with it
            return _database_op(uow, row, DatabaseOp.DELETE, actor, **dict(last.options or {}))
        return _database_op(uow, row, DatabaseOp.RETRY, actor)


def reassign_database(
    services: Services,
    *,
    name: str,
    tenant: str,
    actor: str,
    idempotency_key: str | None = None,
) -> Submitted:
    """The database moved to `tenant` (an operator's request): its MariaDB name embeds the
    tenant, so a new row under the new name (PENDING, counted against the new tenant's
    plan) is made now; the operation moves the tables and drops the old tenant's users, and
    only when it succeeded is the old row DELETED and the new one ACTIVE."""
    fingerprint = request_hash({"op": DatabaseOp.REASSIGN, "name": name, "tenant": tenant})
    with services.store.unit_of_work() as uow:
        replayed = replay(uow, idempotency_key, fingerprint)
        if replayed:
            return replayed
        row = databases(uow).live_or_404(name)
        refuse_site_database(
            row,
            "it stays with its site, which does not move between tenants (delete the site, or "
            f"copy its data into a database of tenant {tenant!r})",
        )
        target = tenants(uow).live_or_404(tenant)
        identifier = database_identifier(target.name, row.label)
        db_users = users(uow).of_database(row.id)
        taken = databases(uow).get_live(identifier)
        check_move(uow, MOVED, row, target, identifier, taken, db_users)
        for user in db_users:
            users(uow).touch(user)
        check_usage(uow, target, Limit.DATABASES, databases(uow).count_of_tenant(target.id))
        tenants(uow).touch(target)
        databases(uow).touch(row)
        moved = databases(uow).add(
            DatabaseRow(tenant_id=target.id, label=row.label, name=identifier, status=S.PENDING)
        )
        uow.flush()
        sub = _database_op(
            uow,
            row,
            DatabaseOp.REASSIGN,
            actor,
            idempotency_key,
            fingerprint,
            tenant=target.name,
            to=identifier,
            to_id=moved.id,
        )
        record_created(
            uow,
            LIFECYCLE,
            moved,
            reason=f"reassigned from {name}",
            actor=actor,
            operation_id=sub.operation_id,
        )
        audit(
            uow,
            actor,
            row,
            "database.reassign",
            f"to tenant {tenant} as {identifier}",
            sub.operation_id,
        )
        return sub


def audit_refusal(
    services: Services, *, actor: str, name: str, reason: str, scope: str | None
) -> None:
    """A refused database deletion is audited in its own transaction (never another tenant's)."""
    with services.store.unit_of_work() as uow:
        row = databases(uow).get_latest(name)
        if row is None or (scope is not None and row.tenant_id != scope):
            return
        audit(uow, actor, row, "database.delete", reason, None, decision="refused")
