"""How a tenant's operations move it through its lifecycle: the saga hooks the kernel calls.

Suspension is desired state first (`suspension`, the reason): its steps make the sites, their
PHP and SFTP follow it, and only once they confirmed does the status say SUSPENDED (or ACTIVE
again). A failed suspend or unsuspend puts the desired state back before its steps are undone,
so what was there is what comes back.
"""

from __future__ import annotations

from hostplane.errors import NotFoundError
from hostplane.kernel.kind import Plan
from hostplane.kernel.store.tables import OperationRow
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kernel.transition import transition
from hostplane.kinds.tenant.model import (
    KIND,
    LIFECYCLE,
    TenantOp,
    TenantStatus,
    create_plan,
    delete_plan,
    suspension_plan,
)
from hostplane.kinds.tenant.repo import plans, tenants
from hostplane.kinds.tenant.table import TenantRow
from hostplane.services import Services

SUSPENDING = frozenset({TenantOp.SUSPEND, TenantOp.UNSUSPEND})


def snapshot(uow: UnitOfWork, tenant: TenantRow) -> dict[str, object]:
    plan = plans(uow).get(tenant.plan_id)
    return {
        "id": tenant.id,
        "name": tenant.name,
        "status": tenant.status,
        "plan": plan.name if plan else None,
        "suspension": tenant.suspension,
        "made_for": tenant.made_for,
        "created_at": tenant.created_at.isoformat(),
    }


def _move(uow: UnitOfWork, tenant: TenantRow, to: str, reason: str, op: OperationRow) -> None:
    if tenant.status != to:
        transition(uow, LIFECYCLE, tenant, to, reason=reason, actor=op.actor, operation_id=op.id)


class TenantSaga:
    def load(self, uow: UnitOfWork, op: OperationRow) -> TenantRow:
        tenant = tenants(uow).get(op.target_id)
        if tenant is None:
            raise NotFoundError(f"tenant {op.target_id} is gone from the state database")
        return tenant

    def log_context(self, tenant: TenantRow) -> dict[str, str]:
        return {"tenant": tenant.name}

    def begin(self, ctx: Services, uow: UnitOfWork, op: OperationRow, tenant: TenantRow) -> Plan:
        options = op.options or {}
        if op.kind == TenantOp.SUSPEND:
            tenant.suspension = str(options.get("reason") or "suspended")
            return Plan(suspension_plan(), failure="suspension stopped")
        if op.kind == TenantOp.UNSUSPEND:
            tenant.suspension = None
            return Plan(suspension_plan(), failure="unsuspension stopped")
        if op.kind == TenantOp.DELETE:
            _move(uow, tenant, TenantStatus.DELETING, "delete started", op)
            return Plan(delete_plan(), undo=True, failure="delete stopped at a step")
        _move(uow, tenant, TenantStatus.PROVISIONING, f"{op.kind} started", op)
        return Plan(create_plan())

    def failed(
        self, ctx: Services, uow: UnitOfWork, op: OperationRow, tenant: TenantRow, error: str
    ) -> None:
        """A suspend or unsuspend that failed: the desired state it changed is put back, so
        the undo of its steps restores what was there."""
        options = op.options or {}
        if op.kind == TenantOp.SUSPEND:
            tenant.suspension = None
        elif op.kind == TenantOp.UNSUSPEND:
            tenant.suspension = str(options.get("previous") or "suspended")

    def finish(
        self, ctx: Services, uow: UnitOfWork, op: OperationRow, tenant: TenantRow, error: str | None
    ) -> str | None:
        tenant.last_error = error
        if op.kind in SUSPENDING:
            if error is None:
                suspended = op.kind == TenantOp.SUSPEND
                target = TenantStatus.SUSPENDED if suspended else TenantStatus.ACTIVE
                reason = str((op.options or {}).get("reason") or op.kind)
                _move(uow, tenant, target, reason, op)
                _audit(uow, op, tenant, "tenant.suspended" if suspended else "tenant.unsuspended")
            return error
        if op.kind == TenantOp.DELETE:
            target = TenantStatus.DELETED if error is None else TenantStatus.FAILED
            _move(uow, tenant, target, error or "everything it owned removed", op)
            if error is None:
                _audit(uow, op, tenant, "tenant.deleted")
            return error
        target = TenantStatus.ACTIVE if error is None else TenantStatus.FAILED
        _move(uow, tenant, target, error or "its account made and confirmed", op)
        return error


def _audit(uow: UnitOfWork, op: OperationRow, tenant: TenantRow, action: str) -> None:
    uow.audit.record(
        actor=op.actor,
        action=action,
        target_kind=KIND,
        target_name=tenant.name,
        decision="allowed",
        reason=str((op.options or {}).get("reason") or f"{op.kind} finished"),
        operation_id=op.id,
        snapshot=snapshot(uow, tenant),
        scope=tenant.id,
    )
