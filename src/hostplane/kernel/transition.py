"""The one function that writes a status: it checks the kind's lifecycle and appends the
event (from, to, reason, actor, operation, time) in the caller's transaction. Nothing else
writes a status column."""

from __future__ import annotations

from typing import Protocol

from hostplane.kernel.lifecycle import Lifecycle
from hostplane.kernel.store.tables import StatusEventRow
from hostplane.kernel.store.uow import UnitOfWork


class HasStatus(Protocol):
    id: str
    name: str
    status: str


def transition(
    uow: UnitOfWork,
    lifecycle: Lifecycle,
    row: HasStatus,
    to: str,
    *,
    reason: str,
    actor: str,
    operation_id: str | None = None,
) -> None:
    """Move `row` to `to` if its lifecycle allows it, recording why, in the caller's
    transaction. The row's version column makes a concurrent writer's stale update fail."""
    current = row.status
    lifecycle.check(current, to)
    row.status = to
    _event(uow, lifecycle, row, current, reason, actor, operation_id)
    uow.flush()


def transition_to(
    uow: UnitOfWork,
    lifecycle: Lifecycle,
    row: HasStatus,
    to: str,
    *,
    reason: str,
    actor: str,
    operation_id: str | None = None,
    avoiding: frozenset[str] = frozenset(),
) -> None:
    """Move `row` to `to` through every status of its lifecycle's shortest path that avoids
    `avoiding` (each move checked and recorded); nothing when it is there already. A cascade
    delete takes a PENDING resource to DELETED this way, avoiding ACTIVE: through
    PROVISIONING, FAILED and DELETING."""
    for status in lifecycle.path(row.status, to, avoiding):
        transition(
            uow, lifecycle, row, status, reason=reason, actor=actor, operation_id=operation_id
        )


def record_created(
    uow: UnitOfWork,
    lifecycle: Lifecycle,
    row: HasStatus,
    *,
    reason: str,
    actor: str,
    operation_id: str | None,
) -> None:
    """The first event of a resource: it comes into being in its initial status."""
    _event(uow, lifecycle, row, None, reason, actor, operation_id)


def _event(
    uow: UnitOfWork,
    lifecycle: Lifecycle,
    row: HasStatus,
    came_from: str | None,
    reason: str,
    actor: str,
    operation_id: str | None,
) -> None:
    uow.events.append(
        StatusEventRow(
            resource_kind=lifecycle.kind,
            resource_id=row.id,
            resource_name=row.name,
            from_status=came_from,
            to_status=row.status,
            reason=reason,
            actor=actor,
            operation_id=operation_id,
        )
    )
