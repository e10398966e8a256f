"""Operations and the audit log."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from hostplane.api import schemas, views
from hostplane.api.deps import CallerDep, ServicesDep, errors
from hostplane.api.schemas import Caller
from hostplane.errors import NotFoundError
from hostplane.kernel.finished import FINISHED, RECHECK
from hostplane.services import Services

router = APIRouter(tags=["operations"])
ERRORS = errors(401, 404, 422)
MAX_WAIT = 60.0


@router.get("/v1/operations/{operation_id}", responses=ERRORS)
async def show_operation(
    operation_id: Annotated[str, Path(min_length=1, max_length=64)],
    services: ServicesDep,
    caller: CallerDep,
    wait: Annotated[
        float,
        Query(ge=0, le=MAX_WAIT, description="seconds to wait for it to end before answering"),
    ] = 0,
) -> schemas.OperationView:
    """An operation; a tenant's token sees only those of its own tenant's resources. With
    `wait`, answered as soon as it has ended, or after `wait` seconds as it is then."""
    deadline = time.monotonic() + wait
    while True:
        async with FINISHED.watching(operation_id) as ended:
            view = await run_in_threadpool(_operation, services, caller, operation_id)
            remaining = deadline - time.monotonic()
            if view.finished_at is not None or remaining <= 0:
                return view
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ended.wait(), min(remaining, RECHECK))


def _operation(services: Services, caller: Caller, operation_id: str) -> schemas.OperationView:
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
