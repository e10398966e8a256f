"""Operations and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from hostplane.api import schemas, views
from hostplane.api.deps import CallerDep, ServicesDep, errors
from hostplane.errors import NotFoundError

router = APIRouter(tags=["operations"])
ERRORS = errors(401, 404, 422)


@router.get("/v1/operations/{operation_id}", responses=ERRORS)
def show_operation(
    operation_id: Annotated[str, Path(min_length=1, max_length=64)],
    services: ServicesDep,
    caller: CallerDep,
) -> schemas.OperationView:
    """An operation; a tenant's token sees only those of its own tenant's resources."""
    with services.store.unit_of_work() as uow:
        op = uow.operations.get(operation_id)
        if op is None or (caller.scope is not None and op.scope != caller.scope):
            raise NotFoundError(f"no operation has id {operation_id!r}")
        return views.operation_view(op, list(uow.operations.steps(op.id)))


@router.get("/v1/audit", responses=ERRORS)
def list_audit(
    services: ServicesDep,
    caller: CallerDep,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    target: Annotated[str | None, Query(max_length=253)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> schemas.AuditPage:
    """The audit log, newest first; a tenant's token reads only its own tenant's."""
    with services.store.unit_of_work() as uow:
        rows = uow.audit.page(before=before, limit=limit + 1, target=target, scope=caller.scope)
        items = [views.audit_view(r) for r in rows[:limit]]
    more = len(rows) > limit
    return schemas.AuditPage(items=items, next=items[-1].id if more and items else None)
