"""Steps that move a domain operation and its domain through their lifecycles.

Each is idempotent: re-run after a crash, it finds its work done and returns.
"""

from __future__ import annotations

import structlog

from hostplane.domain.lifecycle import DomainStatus, OperationStatus
from hostplane.store.transitions import transition
from hostplane.store.types import utcnow
from hostplane.workflows import certificates, domain_steps
from hostplane.workflows.domain_requests import ADD, REMOVE, UPLOAD, snapshot
from hostplane.workflows.edge import CERT_OWNER
from hostplane.workflows.services import Services

log = structlog.get_logger(__name__)


def begin(services: Services, operation_id: str) -> dict[str, object]:
    """Mark the operation running; return its plan and the DNS re-check backoff."""
    settings = services.settings
    with services.store.unit_of_work() as uow:
        op, _, _ = domain_steps.load(uow, operation_id)
        if op.status == OperationStatus.PENDING:
            op.status = OperationStatus.RUNNING
            op.started_at = utcnow()
        if op.kind == ADD:
            steps = domain_steps.plan(services)
        elif op.kind == REMOVE:
            steps = domain_steps.removal_plan(services)
        elif op.kind == UPLOAD:
            steps = ["upload"]
        else:
            steps = ["renew"]
        return {
            "steps": steps,
            "actor": op.actor,
            "finished": op.finished_at is not None,
            "recheck_initial": settings.domain_recheck_initial,
            "recheck_max": settings.domain_recheck_max,
        }


def mark_failed(services: Services, operation_id: str, error: str) -> None:
    """A step failed: the domain leaves the served states first, so that regenerating the
    edge and the tunnel (the undo of every step) drops it."""
    with services.store.unit_of_work() as uow:
        op, domain, _ = domain_steps.load(uow, operation_id)
        if op.status == OperationStatus.RUNNING:
            op.status = OperationStatus.COMPENSATING
            op.error = error
        if op.kind == ADD and domain.status != DomainStatus.FAILED:
            domain.last_error = error
            transition(
                uow,
                "domain",
                domain,
                DomainStatus.FAILED,
                reason=error,
                actor=op.actor,
                operation_id=op.id,
            )


def finish(services: Services, operation_id: str, error: str | None) -> str:
    with services.store.unit_of_work() as uow:
        op, domain, site = domain_steps.load(uow, operation_id)
        if op.finished_at is not None:
            return str(op.status)
        if error == domain_steps.DNS_NOT_RIGHT and domain.last_error:
            error = domain.last_error  # what was found against what was expected
        status = OperationStatus.SUCCEEDED if error is None else OperationStatus.FAILED
        uow.operations.finish(op, status, error)
        target: DomainStatus | None
        if op.kind == ADD:
            target = DomainStatus.ACTIVE if error is None else DomainStatus.FAILED
            reason = "routed and confirmed" if error is None else error
        elif op.kind == REMOVE:
            target = DomainStatus.REMOVED if error is None else DomainStatus.FAILED
            reason = "route, certificate and tunnel rule removed" if error is None else error
        else:  # renewal or upload: the domain keeps its state (and old certificate on failure)
            target, reason = None, ""
            if op.kind == UPLOAD and error is None:  # the old certificate is not needed back
                for name in (certificates.PREVIOUS_CERT, certificates.PREVIOUS_KEY):
                    uow.secrets.delete(CERT_OWNER, domain.id, name)
        if target is not None or error is not None:
            domain.last_error = error
        if target is not None and domain.status != target:
            transition(
                uow, "domain", domain, target, reason=reason, actor=op.actor, operation_id=op.id
            )
        if target == DomainStatus.REMOVED:
            uow.audit.record(
                actor=op.actor,
                action="domain.removed",
                target_kind="domain",
                target_name=domain.name,
                decision="allowed",
                reason="removal finished",
                operation_id=op.id,
                snapshot=snapshot(domain, site.name),
            )
        log.info(
            "domain.operation_finished",
            operation=op.id,
            kind=op.kind,
            domain=domain.name,
            status=str(status),
        )
        return str(status)
