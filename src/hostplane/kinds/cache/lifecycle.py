"""How a cache's and a cache user's operations move them through their lifecycles: the saga
hooks the kernel calls (one saga for the kind; an operation's kind says which row)."""

from __future__ import annotations

from hostplane.kernel.kind import Plan
from hostplane.kernel.lifecycle import Lifecycle
from hostplane.kernel.store.tables import OperationRow
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kernel.transition import transition, transition_to
from hostplane.kinds.cache.model import (
    KIND,
    LIFECYCLE,
    USER_KIND,
    USER_LIFECYCLE,
    CacheOp,
    CacheStatus,
    create_plan,
    delete_plan,
    reassign_plan,
    update_plan,
    user_plan,
)
from hostplane.kinds.cache.repo import caches, load_target, users
from hostplane.kinds.cache.steps import NEXT_PASSWORD, PASSWORD, SECRET_OWNER
from hostplane.kinds.cache.table import CacheRow, CacheUserRow
from hostplane.kinds.tenant.repo import tenants
from hostplane.services import CACHE_ADMIN_SECRET, Services

S = CacheStatus
Row = CacheRow | CacheUserRow
DELETES = (CacheOp.DELETE, CacheOp.USER_DELETE)
NEVER = frozenset({S.ACTIVE})


def _lifecycle(row: Row) -> Lifecycle:
    return USER_LIFECYCLE if isinstance(row, CacheUserRow) else LIFECYCLE


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
    if isinstance(row, CacheUserRow):
        cache = caches(uow).get(row.cache_id)
        found |= {"cache": cache.name if cache else None, "key_prefix": row.key_prefix}
    else:
        found |= {
            "memory_mb": row.memory_mb,
            "persistence": row.persistence,
            "users": [u.label for u in users(uow).of_cache(row.id)],
        }
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
        target_kind=USER_KIND if isinstance(row, CacheUserRow) else KIND,
        target_name=row.name,
        decision=decision,
        reason=reason,
        operation_id=operation_id,
        snapshot=snapshot(uow, row),
        scope=row.tenant_id,
    )


def forget(uow: UnitOfWork, row: Row, reason: str, actor: str, op: str | None) -> None:
    """A cache or user that is gone from Redis: DELETED (through DELETING), its sealed
    password forgotten (a cache's users with it)."""
    if row.status == S.DELETED:
        return
    if isinstance(row, CacheRow):
        for user in users(uow).of_cache(row.id):
            forget(uow, user, f"its cache {row.name} was deleted", actor, op)
    retire(uow, row, S.DELETED, reason, actor, op)
    if isinstance(row, CacheUserRow):
        uow.secrets.delete(SECRET_OWNER, row.id, PASSWORD)
        uow.secrets.delete(SECRET_OWNER, row.id, NEXT_PASSWORD)
    else:
        owner_kind, name = CACHE_ADMIN_SECRET
        uow.secrets.delete(owner_kind, row.name, name)


def finish_update(uow: UnitOfWork, op: OperationRow, user: CacheUserRow, error: str | None) -> None:
    """A succeeded update: the row's sealed password is the new one the ACL user has; a
    failed one (the user put back) forgets the new password."""
    next_sealed = uow.secrets.get(SECRET_OWNER, user.id, NEXT_PASSWORD)
    uow.secrets.delete(SECRET_OWNER, user.id, NEXT_PASSWORD)
    if error is not None or next_sealed is None:
        return
    uow.secrets.put(SECRET_OWNER, user.id, PASSWORD, next_sealed)
    audit(uow, op.actor, user, "cache.user.updated", f"{op.kind} finished: a new password", op.id)


def _moved(uow: UnitOfWork, op: OperationRow) -> CacheRow:
    moved = caches(uow).get(str((op.options or {})["to_id"]))
    assert moved is not None, op.options
    return moved


def finish_reassign(uow: UnitOfWork, op: OperationRow, row: CacheRow, error: str | None) -> None:
    """Succeeded: the new row ACTIVE, the old one (its users, its admin password) DELETED.
    Failed: the new row DELETED (its admin password forgotten) when every undo succeeded
    (the instance is back under the old name, with its users), else FAILED (it may hold the
    data: never an orphan for the reconciler to prune)."""
    moved = _moved(uow, op)
    tenant = (op.options or {}).get("tenant")
    if error is None:
        move(uow, moved, S.ACTIVE, f"reassigned from {row.name}", op.actor, op.id)
        reason = f"reassigned to tenant {tenant} as {moved.name}"
        forget(uow, row, reason, op.actor, op.id)
        audit(uow, op.actor, row, "cache.reassigned", reason, op.id)
        return
    moved.last_error = error
    move(uow, moved, S.FAILED, error, op.actor, op.id)
    undone = all(r.status == "succeeded" for r in uow.operations.steps(op.id) if r.phase == "undo")
    if undone:
        forget(uow, moved, "its reassign failed and was undone", op.actor, op.id)


class CacheSaga:
    def load(self, uow: UnitOfWork, op: OperationRow) -> Row:
        return load_target(uow, op)

    def log_context(self, row: Row) -> dict[str, str]:
        if isinstance(row, CacheUserRow):
            return {"cache_user": row.name}
        return {"cache": row.name}

    def begin(self, ctx: Services, uow: UnitOfWork, op: OperationRow, row: Row) -> Plan:
        if op.kind in DELETES:
            move(uow, row, S.DELETING, "delete started", op.actor, op.id)
            plan = delete_plan() if op.kind == CacheOp.DELETE else user_plan()
            return Plan(plan, undo=True, failure="delete stopped at a step")
        if op.kind == CacheOp.USER_UPDATE:
            return Plan(update_plan(), failure="update stopped")
        if op.kind == CacheOp.REASSIGN:
            reason = f"reassign of {row.name} started"
            move(uow, _moved(uow, op), S.PROVISIONING, reason, op.actor, op.id)
            return Plan(reassign_plan(), failure="reassign stopped")
        move(uow, row, S.PROVISIONING, f"{op.kind} started", op.actor, op.id)
        return Plan(user_plan() if op.kind == CacheOp.USER_CREATE else create_plan())

    def failed(
        self, ctx: Services, uow: UnitOfWork, op: OperationRow, row: Row, error: str
    ) -> None:
        """Nothing to put back: rows change only when an operation succeeded."""

    def finish(
        self, ctx: Services, uow: UnitOfWork, op: OperationRow, row: Row, error: str | None
    ) -> str | None:
        row.last_error = error
        if op.kind in DELETES:
            if error is not None:
                move(uow, row, S.FAILED, error, op.actor, op.id)
                return error
            user = isinstance(row, CacheUserRow)
            forget(uow, row, "removed from Redis", op.actor, op.id)
            action = "cache.user.deleted" if user else "cache.deleted"
            audit(uow, op.actor, row, action, f"{op.kind} finished", op.id)
            return None
        if op.kind == CacheOp.USER_UPDATE:
            assert isinstance(row, CacheUserRow)
            finish_update(uow, op, row, error)  # an ACTIVE user stays ACTIVE either way
            return error
        if op.kind == CacheOp.REASSIGN:
            assert isinstance(row, CacheRow)
            finish_reassign(uow, op, row, error)  # the old row stays ACTIVE on a failure
            return error
        target = S.ACTIVE if error is None else S.FAILED
        move(uow, row, target, error or "made on Redis and confirmed", op.actor, op.id)
        return error
