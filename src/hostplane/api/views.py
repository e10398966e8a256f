"""Rows of the kernel's tables to API views (each kind builds its own in its views.py)."""

from __future__ import annotations

from collections.abc import Sequence

from hostplane.api import schemas
from hostplane.kernel.store.tables import (
    AuditEventRow,
    OperationRow,
    OperationStepRow,
    StatusEventRow,
)


def operation_url(operation_id: str) -> str:
    return f"/v1/operations/{operation_id}"


def operation_ref(op: OperationRow) -> schemas.OperationRef:
    return schemas.OperationRef(id=op.id, kind=op.kind, status=op.status, url=operation_url(op.id))


def event_views(events: Sequence[StatusEventRow]) -> list[schemas.EventView]:
    return [
        schemas.EventView(
            from_status=e.from_status,
            to_status=e.to_status,
            reason=e.reason,
            actor=e.actor,
            operation_id=e.operation_id,
            at=e.at,
        )
        for e in events
    ]


def operation_view(op: OperationRow, steps: list[OperationStepRow]) -> schemas.OperationView:
    return schemas.OperationView(
        id=op.id,
        kind=op.kind,
        status=op.status,
        target_kind=op.target_kind,
        target=op.target_name,
        actor=op.actor,
        error=op.error,
        options=dict(op.options or {}),
        created_at=op.created_at,
        started_at=op.started_at,
        finished_at=op.finished_at,
        steps=[
            schemas.StepView(
                name=s.name,
                phase=s.phase,
                status=s.status,
                outcome=s.outcome,
                detail=s.detail,
                attempt=s.attempt,
                started_at=s.started_at,
                finished_at=s.finished_at,
                elapsed_ms=s.elapsed_ms,
            )
            for s in steps
        ],
    )


def audit_view(row: AuditEventRow) -> schemas.AuditView:
    return schemas.AuditView(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target_kind=row.target_kind,
        target=row.target_name,
        decision=row.decision,
        reason=row.reason,
        operation_id=row.operation_id,
        snapshot=dict(row.snapshot or {}),
    )
