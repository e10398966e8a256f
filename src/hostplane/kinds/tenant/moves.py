"""What every move of a tenant's resource to another tenant checks before it is recorded
(a database's or a cache's reassign): the kinds differ in what the move does, not in when
it may start."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from hostplane.errors import ConflictError, ValidationError
from hostplane.kernel.lifecycle import ResourceStatus
from hostplane.kernel.operations import refuse_if_busy
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kinds.tenant.model import TenantStatus
from hostplane.kinds.tenant.table import TenantRow


class Movable(Protocol):
    name: str
    label: str
    status: str
    tenant_id: str


class Named(Protocol):
    name: str


@dataclass(frozen=True, slots=True)
class MovedKind:
    what: str  # "database": how messages name it
    kind: str  # its operations' kind
    user_kind: str  # its users' operations' kind


def check_move(
    uow: UnitOfWork,
    moved: MovedKind,
    row: Movable,
    target: TenantRow,
    new_name: str,
    taken: Movable | None,
    users: Iterable[Named],
) -> None:
    """422 when `row` is the target's already; 409 unless it and the target are ACTIVE, while
    the target has one of that label (`taken`, under `new_name`), or while the resource, its
    new name or one of its `users` has an operation at work."""
    what = moved.what
    if target.id == row.tenant_id:
        raise ValidationError(f"{what} {row.name!r} belongs to tenant {target.name!r} already")
    if row.status != ResourceStatus.ACTIVE:
        raise ConflictError(f"{what} {row.name!r} is {row.status}: only ACTIVE ones move")
    if target.status != TenantStatus.ACTIVE:
        raise ConflictError(
            f"tenant {target.name!r} is {target.status}: {what}s move to ACTIVE tenants only"
        )
    if taken is not None:
        raise ConflictError(
            f"tenant {target.name!r} has a {what} {row.label!r} already ({new_name}, status "
            f"{taken.status}): delete it first"
        )
    refuse_if_busy(uow, moved.kind, row.name)
    refuse_if_busy(uow, moved.kind, new_name)
    for user in users:
        refuse_if_busy(uow, moved.user_kind, user.name)
