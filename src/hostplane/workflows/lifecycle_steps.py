"""Steps that move an operation and its site through their lifecycles.

Each is idempotent: a step re-run after a crash finds its work done and returns.
"""

from __future__ import annotations

import structlog

from hostplane.domain.lifecycle import OperationStatus, SiteStatus
from hostplane.domain.sites import destroy_plan, provision_plan
from hostplane.store.tables import OperationRow, SiteRow
from hostplane.store.transitions import transition
from hostplane.store.types import utcnow
from hostplane.store.uow import UnitOfWork
from hostplane.workflows.services import Services

log = structlog.get_logger(__name__)

WORKER = "worker"
PROVISION_KINDS = frozenset({"provision", "retry"})


def _load(uow: UnitOfWork, operation_id: str) -> tuple[OperationRow, SiteRow]:
    op = uow.operations.get(operation_id)
    assert op is not None, f"operation {operation_id} vanished"
    site = uow.sites.get(op.target_id)
    assert site is not None, f"site of operation {operation_id} vanished"
    return op, site


def begin(services: Services, operation_id: str) -> list[str]:
    """Mark the operation running, move the site into its working state, return the plan."""
    with services.store.unit_of_work() as uow:
        op, site = _load(uow, operation_id)
        provisioning = op.kind in PROVISION_KINDS
        target = SiteStatus.PROVISIONING if provisioning else SiteStatus.DESTROYING
        if op.status == OperationStatus.PENDING:
            op.status = OperationStatus.RUNNING
            op.started_at = utcnow()
        if site.status != target:
            transition(
                uow,
                "site",
                site,
                target,
                reason=f"{op.kind} started",
                actor=op.actor,
                operation_id=op.id,
            )
        spec = services.spec(site)
        plan = provision_plan(spec) if provisioning else destroy_plan(spec)
        return [step.value for step in plan]


def mark_compensating(services: Services, operation_id: str, error: str) -> None:
    with services.store.unit_of_work() as uow:
        op, _ = _load(uow, operation_id)
        if op.status == OperationStatus.RUNNING:
            op.status = OperationStatus.COMPENSATING
            op.error = error


def finish(services: Services, operation_id: str, error: str | None) -> str:
    """Commit the end state: ACTIVE or DESTROYED when `error` is None, else FAILED."""
    with services.store.unit_of_work() as uow:
        op, site = _load(uow, operation_id)
        if op.finished_at is not None:
            return str(op.status)
        provisioning = op.kind in PROVISION_KINDS
        if error is None:
            target = SiteStatus.ACTIVE if provisioning else SiteStatus.DESTROYED
            reason = "every step confirmed" if provisioning else "every resource removed"
            site.last_error = None
            uow.operations.finish(op, OperationStatus.SUCCEEDED, None)
        else:
            target, reason = SiteStatus.FAILED, error
            site.last_error = error
            uow.operations.finish(op, OperationStatus.FAILED, error)
        if site.status != target:
            transition(uow, "site", site, target, reason=reason, actor=op.actor, operation_id=op.id)
        if target == SiteStatus.DESTROYED:
            uow.audit.record(
                actor=op.actor,
                action="site.destroyed",
                target_kind="site",
                target_name=site.name,
                decision="allowed",
                reason="destroy finished",
                operation_id=op.id,
                snapshot=snapshot(site),
            )
        log.info("operation.finished", operation=op.id, site=site.name, status=str(op.status))
        return str(op.status)


def snapshot(site: SiteRow) -> dict[str, object]:
    return {
        "id": site.id,
        "name": site.name,
        "type": site.type,
        "runtime": site.runtime,
        "status": site.status,
        "routed": site.routed,
        "created_at": site.created_at.isoformat(),
    }
