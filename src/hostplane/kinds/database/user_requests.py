"""Recording a database user's intent: the row (or the change) and its operation in one
transaction; the API submits the operation after the commit. A password is made here (or is
the tenant's own, checked for strength), sealed into the store in the same transaction, and
handed back once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from hostplane.errors import ConflictError, NotFoundError, ValidationError
from hostplane.kernel.operations import Submitted, refuse_if_busy, replay, request_hash, submit
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kernel.transition import record_created
from hostplane.kinds.database.lifecycle import audit
from hostplane.kinds.database.model import (
    DELETABLE,
    KIND,
    USER_KIND,
    USER_LIFECYCLE,
    DatabaseOp,
    DatabaseStatus,
    user_identifier,
    validate_password,
    validate_privileges,
    validate_user_name,
)
from hostplane.kinds.database.repo import databases, users
from hostplane.kinds.database.steps import NEXT_PASSWORD, PASSWORD, SECRET_OWNER
from hostplane.kinds.database.table import DatabaseRow, DatabaseUserRow
from hostplane.kinds.tenant.repo import tenants
from hostplane.providers.mariadb.identifiers import generate_password
from hostplane.services import Services

_user_op = partial(submit, USER_KIND)
S = DatabaseStatus


@dataclass(frozen=True, slots=True)
class UserSubmitted:
    submitted: Submitted
    password: str | None  # None when an Idempotency-Key replayed the first request


def create_user(
    services: Services,
    *,
    database: str,
    name: str,
    privileges: str,
    actor: str,
    idempotency_key: str | None,
    scope: str | None = None,
    password: str | None = None,
) -> UserSubmitted:
    """An account of the database's tenant granted on exactly `database`; its password made
    now (or the tenant's own, checked for strength), sealed, and returned here only."""
    name = validate_user_name(name)
    level = validate_privileges(privileges)
    if password is not None:
        validate_password(password, name)
    fingerprint = request_hash(
        {
            "op": DatabaseOp.USER_CREATE,
            "database": database,
            "name": name,
            "privileges": level,
            "own_password": password is not None,
        }
    )
    with services.store.unit_of_work() as uow:
        replayed = replay(uow, idempotency_key, fingerprint)
        if replayed:
            return UserSubmitted(replayed, None)
        db = databases(uow).live_or_404(database, scope)
        if db.status != S.ACTIVE:
            raise ConflictError(
                f"database {database!r} is {db.status}: users are added to ACTIVE databases only"
            )
        owner = tenants(uow).get(db.tenant_id)
        assert owner is not None
        account = user_identifier(owner.name, name)
        existing = users(uow).get_live(account)
        if existing is not None:
            held = databases(uow).get(existing.database_id)
            raise ConflictError(
                f"tenant {owner.name!r} has a database user {name!r} already ({account}, on "
                f"{held.name if held else '?'}): user names are the tenant's, one of each"
            )
        refuse_if_busy(uow, KIND, db.name)
        refuse_if_busy(uow, USER_KIND, account)
        databases(uow).touch(db)  # a delete of the database racing this cannot also commit
        row = users(uow).add(
            DatabaseUserRow(
                tenant_id=db.tenant_id,
                database_id=db.id,
                label=name,
                name=account,
                privileges=level.value,
                status=S.PENDING,
            )
        )
        uow.flush()
        secret = password or generate_password()
        uow.secrets.add(SECRET_OWNER, row.id, PASSWORD, services.secrets.seal(secret))
        sub = _user_op(uow, row, DatabaseOp.USER_CREATE, actor, idempotency_key, fingerprint)
        record_created(
            uow, USER_LIFECYCLE, row, reason="requested", actor=actor, operation_id=sub.operation_id
        )
        return UserSubmitted(sub, None if password else secret)


def update_user(
    services: Services,
    *,
    database: str,
    name: str,
    actor: str,
    privileges: str | None = None,
    rotate_password: bool = False,
    password: str | None = None,
    idempotency_key: str | None = None,
    scope: str | None = None,
) -> UserSubmitted:
    """A user's new privileges and/or password (a random one, returned here only, or the
    tenant's own, checked for strength), sealed until the account has them; the row takes
    them when the operation succeeded (a failed one puts the account back as it was)."""
    level = validate_privileges(privileges) if privileges is not None else None
    if rotate_password and password is not None:
        raise ValidationError(
            "give either rotate_password (a new random password) or password (your own), not both"
        )
    if level is None and not rotate_password and password is None:
        raise ValidationError(
            "nothing to change: give privileges, rotate_password: true, or password"
        )
    if password is not None:
        validate_password(password, name)
    fingerprint = request_hash(
        {
            "op": DatabaseOp.USER_UPDATE,
            "database": database,
            "name": name,
            "privileges": level,
            "rotate": rotate_password,
            "own_password": password is not None,
        }
    )
    with services.store.unit_of_work() as uow:
        replayed = replay(uow, idempotency_key, fingerprint)
        if replayed:
            return UserSubmitted(replayed, None)
        db, row = _user_of(uow, database, name, scope)
        if row.status != S.ACTIVE:
            raise ConflictError(
                f"database user {name!r} is {row.status}: only ACTIVE users are changed "
                "(retry or delete a FAILED one)"
            )
        databases(uow).touch(db)
        users(uow).touch(row)
        secret = password or (generate_password() if rotate_password else None)
        if secret is not None:
            uow.secrets.put(SECRET_OWNER, row.id, NEXT_PASSWORD, services.secrets.seal(secret))
        sub = _user_op(
            uow,
            row,
            DatabaseOp.USER_UPDATE,
            actor,
            idempotency_key,
            fingerprint,
            privileges=str(level or row.privileges),
            password=secret is not None,
        )
        what = ", ".join(
            p
            for p in (
                f"privileges {row.privileges} → {level.value}" if level else "",
                "a new password" if secret else "",
            )
            if p
        )
        audit(uow, actor, row, "database.user.update", what, sub.operation_id)
        return UserSubmitted(sub, secret if rotate_password else None)


def _user_of(
    uow: UnitOfWork, database: str, name: str, scope: str | None
) -> tuple[DatabaseRow, DatabaseUserRow]:
    """The database's live user `name` (404 otherwise); 409 while either is at work."""
    db = databases(uow).live_or_404(database, scope)
    row = users(uow).live_in(db.id, name)
    if row is None:
        raise NotFoundError(f"database {database!r} has no user {name!r}")
    refuse_if_busy(uow, KIND, db.name)
    refuse_if_busy(uow, USER_KIND, row.name)
    return db, row


def delete_user(
    services: Services,
    *,
    database: str,
    name: str,
    actor: str,
    scope: str | None = None,
    idempotency_key: str | None = None,
) -> Submitted:
    fingerprint = request_hash({"op": DatabaseOp.USER_DELETE, "database": database, "name": name})
    with services.store.unit_of_work() as uow:
        replayed = replay(uow, idempotency_key, fingerprint)
        if replayed:
            return replayed
        _, row = _user_of(uow, database, name, scope)
        if row.status not in DELETABLE:
            raise ConflictError(
                f"database user {name!r} is {row.status}: only ACTIVE or FAILED ones are deleted"
            )
        users(uow).touch(row)
        sub = _user_op(uow, row, DatabaseOp.USER_DELETE, actor, idempotency_key, fingerprint)
        audit(uow, actor, row, "database.user.delete", f"user is {row.status}", sub.operation_id)
        return sub
