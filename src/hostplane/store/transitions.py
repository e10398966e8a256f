"""The one function that writes a status: it checks the lifecycle and appends the event."""

from __future__ import annotations

from typing import Protocol

from hostplane.domain.lifecycle import check_transition
from hostplane.store.tables import StatusEventRow
from hostplane.store.uow import UnitOfWork


class HasStatus(Protocol):
    id: str
    name: str
    status: str


def transition(
    uow: UnitOfWork,
    kind: str,
    row: HasStatus,
    to: str,
    *,
    reason: str,
    actor: str,
    operation_id: str | None = None,
) -> None:
    """Move `row` to `to` if its lifecycle allows it, recording why, in the caller's transaction.

    The row's version column makes a concurrent writer's stale update fail at flush.
    """
    current = row.status
    check_transition(kind, current, to)
    row.status = to
    uow.events.append(
        StatusEventRow(
            resource_kind=kind,
            resource_id=row.id,
            resource_name=row.name,
            from_status=current,
            to_status=to,
            reason=reason,
            actor=actor,
            operation_id=operation_id,
        )
    )
    uow.flush()


def record_created(
    uow: UnitOfWork, kind: str, row: HasStatus, *, reason: str, actor: str, operation_id: str | None
) -> None:
    """The first event of a resource: it comes into being in its initial status."""
    uow.events.append(
        StatusEventRow(
            resource_kind=kind,
            resource_id=row.id,
            resource_name=row.name,
            from_status=None,
            to_status=row.status,
            reason=reason,
            actor=actor,
            operation_id=operation_id,
        )
    )
