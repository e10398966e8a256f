"""How a database's and a database user's operations move them through their lifecycles: the
saga hooks the kernel calls (one saga for the kind; an operation's kind says which row)."""

from __future__ import annotations

from hostplane.kernel.kind import Plan
from hostplane.kernel.lifecycle import Lifecycle
from hostplane.kernel.store.tables import OperationRow
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kernel.transition import transition, transition_to
from hostplane.kinds.database.model import (
    KIND,
    LIFECYCLE,
    USER_KIND,
    USER_LIFECYCLE,
    DatabaseOp,
    DatabaseStatus,
    create_plan,
    delete_plan,
    reassign_plan,
    update_plan,
    user_plan,
)
from hostplane.kinds.database.repo import databases, load_target, users
from hostplane.kinds.database.steps import NEXT_PASSWORD, PASSWORD, SECRET_OWNER
from hostplane.kinds.database.table import DatabaseRow, DatabaseUserRow
from hostplane.kinds.tenant.repo import tenants
from hostplane.services import Services

S = DatabaseStatus
Row = DatabaseRow | DatabaseUserRow
NEVER = frozenset({S.ACTIVE})


def _lifecycle(row: Row) -> Lifecycle:
    return USER_LIFECYCLE if isinstance(row, DatabaseUserRow) else LIFECYCLE


def move(uow: UnitOfWork, row: Row, to: str, reason: str, actor: str, op: str | None) -> None:
    if row.status != to:
        transition(uow, _lifecycle(row), row, to, reason=reason, actor=actor, operation_id=op)


def retire(uow: UnitOfWork, row: Row, to: str, reason: str, actor: str, op: str | None) -> None:
    """Through its lifecycle to DELETING or DELETED, never through ACTIVE (a resource that was
    never confirmed does not say it was)."""
    transition_to(
        uow, _lifecycle(row), row, to, reason=reason, actor=actor, operation_id=op, avoiding=NEVER
    )


def snapshot(uow: UnitOfWork, row: Row) -> dict[str, object]:
    tenant = tenants(uow).get(row.tenant_id)
    found: dict[str, object] = {
        "id": row.id,
        "name": row.name,
        "label": row.label,
        "status": row.status,
        "tenant": tenant.name if tenant else None,
        "created_at": row.created_at.isoformat(),
    }
    if isinstance(row, DatabaseUserRow):
        db = databases(uow).get(row.database_id)
        found |= {"database": db.name if db else None, "privileges": row.privileges}
    else:
        found["users"] = [u.name for u in users(uow).of_database(row.id)]
    return found


def audit(
    uow: UnitOfWork,
    actor: str,
    row: Row,
    action: str,
    reason: str,
    operation_id: str | None,
    decision: str = "allowed",
) -> None:
    uow.audit.record(
        actor=actor,
        action=action,
        target_kind=USER_KIND if isinstance(row, DatabaseUserRow) else KIND,
        target_name=row.name,
        decision=decision,
        reason=reason,
        operation_id=operation_id,
        snapshot=snapshot(uow, row),
        scope=row.tenant_id,
    )


def forget_user(
    uow: UnitOfWork, user: DatabaseUserRow, reason: str, actor: str, op: str | None
) -> None:
    """A user whose account was dropped: DELETED (through DELETING), its password forgotten."""
    if user.status == S.DELETED:
        return
    retire(uow, user, S.DELETED, reason, actor, op)
    uow.secrets.delete(SECRET_OWNER, user.id, PASSWORD)
    uow.secrets.delete(SECRET_OWNER, user.id, NEXT_PASSWORD)


def finish_update(
    uow: UnitOfWork, op: OperationRow, user: DatabaseUserRow, error: str | None
) -> None:
    """A succeeded update: the row takes the privileges and the new password the account
    has; a failed one (the account put back) forgets the new password."""
    options = op.options or {}
    next_sealed = uow.secrets.get(SECRET_OWNER, user.id, NEXT_PASSWORD)
    uow.secrets.delete(SECRET_OWNER, user.id, NEXT_PASSWORD)
    if error is not None:
        return
    user.privileges = str(options.get("privileges") or user.privileges)
    if options.get("password") and next_sealed is not None:
        uow.secrets.put(SECRET_OWNER, user.id, PASSWORD, next_sealed)
    audit(uow, op.actor, user, "database.user.updated", f"{op.kind} finished", op.id)


def _moved(uow: UnitOfWork, op: OperationRow) -> DatabaseRow:
    moved = databases(uow).get(str((op.options or {})["to_id"]))
    assert moved is not None, op.options
    return moved


def finish_reassign(uow: UnitOfWork, op: OperationRow, row: DatabaseRow, error: str | None) -> None:
    """Succeeded: the new row ACTIVE, the old one (and its users) DELETED. Failed: the new
    row DELETED when every undo succeeded (the account and tables are back), else FAILED (it
    may hold the tables: never an orphan for the reconciler to prune)."""
    moved = _moved(uow, op)
    tenant = (op.options or {}).get("tenant")
    if error is None:
        move(uow, moved, S.ACTIVE, f"reassigned from {row.name}", op.actor, op.id)
        reason = f"reassigned to tenant {tenant} as {moved.name}"
        for user in users(uow).of_database(row.id):
            forget_user(uow, user, reason, op.actor, op.id)
        move(uow, row, S.DELETING, reason, op.actor, op.id)
        move(uow, row, S.DELETED, reason, op.actor, op.id)
        audit(uow, op.actor, row, "database.reassigned", reason, op.id)
        return
    row.last_error = error
    moved.last_error = error
    move(uow, moved, S.FAILED, error, op.actor, op.id)
    undone = all(r.status == "succeeded" for r in uow.operations.steps(op.id) if r.phase == "undo")
    if undone:
        move(uow, moved, S.DELETING, "its reassign failed and was undone", op.actor, op.id)
        move(uow, moved, S.DELETED, "its reassign failed and was undone", op.actor, op.id)


class DatabaseSaga:
    def load(self, uow: UnitOfWork, op: OperationRow) -> Row:
        return load_target(uow, op)

    def log_context(self, row: Row) -> dict[str, str]:
        if isinstance(row, DatabaseUserRow):
            return {"database_user": row.name}
        return {"database": row.name}

    def begin(self, ctx: Services, uow: UnitOfWork, op: OperationRow, row: Row) -> Plan:
        if op.kind in (DatabaseOp.DELETE, DatabaseOp.USER_DELETE):
            move(uow, row, S.DELETING, "delete started", op.actor, op.id)
            backup = bool((op.options or {}).get("backup_file"))
            plan = delete_plan(backup) if op.kind == DatabaseOp.DELETE else user_plan()
            return Plan(plan, undo=True, failure="delete stopped at a step")
        if op.kind == DatabaseOp.USER_UPDATE:
            return Plan(update_plan(), failure="update stopped")
        if op.kind == DatabaseOp.REASSIGN:
            reason = f"reassign of {row.name} started"
            move(uow, _moved(uow, op), S.PROVISIONING, reason, op.actor, op.id)
            return Plan(reassign_plan(), failure="reassign stopped")
        move(uow, row, S.PROVISIONING, f"{op.kind} started", op.actor, op.id)
        return Plan(user_plan() if op.kind == DatabaseOp.USER_CREATE else create_plan())

    def failed(
        self, ctx: Services, uow: UnitOfWork, op: OperationRow, row: Row, error: str
    ) -> None:
        """Nothing to put back: rows change only when an operation succeeded."""

    def finish(
        self, ctx: Services, uow: UnitOfWork, op: OperationRow, row: Row, error: str | None
    ) -> str | None:
        row.last_error = error
        if op.kind in (DatabaseOp.DELETE, DatabaseOp.USER_DELETE):
            if error is not None:
                move(uow, row, S.FAILED, error, op.actor, op.id)
                return error
            what = "removed from MariaDB"
            if isinstance(row, DatabaseUserRow):
                forget_user(uow, row, what, op.actor, op.id)
                audit(uow, op.actor, row, "database.user.deleted", f"{op.kind} finished", op.id)
                return None
            for user in users(uow).of_database(row.id):
                forget_user(uow, user, f"its database {row.name} was deleted", op.actor, op.id)
            move(uow, row, S.DELETED, what, op.actor, op.id)
            audit(uow, op.actor, row, "database.deleted", f"{op.kind} finished", op.id)
            return None
        if op.kind == DatabaseOp.USER_UPDATE:
            assert isinstance(row, DatabaseUserRow)
            finish_update(uow, op, row, error)  # an ACTIVE user stays ACTIVE either way
            return error
        if op.kind == DatabaseOp.REASSIGN:
            assert isinstance(row, DatabaseRow)
            finish_reassign(uow, op, row, error)  # the old row stays ACTIVE on a failure
            return error
        target = S.ACTIVE if error is None else S.FAILED
        move(uow, row, target, error or "made on MariaDB and confirmed", op.actor, op.id)
        return error
