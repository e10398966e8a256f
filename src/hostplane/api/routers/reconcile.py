"""Drift and the reconciler: what differs now, and runs that repair it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from hostplane.api import schemas, views
from hostplane.api.deps import ActorDep, ServicesDep, SubmitterDep, errors
from hostplane.errors import NotFoundError
from hostplane.kernel.drift import counts
from hostplane.kernel.store.tables import ReconcileRunRow
from hostplane.observability import OPERATIONS
from hostplane.reconciler import run as reconcile_run
from hostplane.reconciler.observe import plan
from hostplane.services import Services

router = APIRouter(tags=["reconciler"])
ERRORS = errors(401, 404, 409, 422, 503)


@router.get("/v1/drift", responses=ERRORS)
def drift(services: ServicesDep, actor: ActorDep) -> schemas.DriftView:
    """What a reconcile would find and do now, like a plan; changes nothing."""
    found = plan(services)
    return schemas.DriftView(
        findings=[schemas.FindingView(**f.as_dict()) for f in found.findings],  # type: ignore[arg-type]
        counts=counts(found.findings),
        unreachable=found.unreachable,
        provider_calls=sum(found.calls.values()),
    )


@router.post("/v1/reconcile", status_code=202, responses=ERRORS)
def start_reconcile(
    body: schemas.ReconcileRequest,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    actor: ActorDep,
) -> schemas.OperationRef:
    """Run a reconcile now (one at a time: 409 while one runs)."""
    op_id = reconcile_run.record_request(
        services, dry_run=body.dry_run, prune=body.prune, trigger="request", actor=actor
    )
    submitter.submit(op_id, reconcile_run.KIND)
    OPERATIONS.labels(reconcile_run.KIND).inc()
    with services.store.unit_of_work() as uow:
        op = uow.operations.get(op_id)
        assert op is not None
        ref = views.operation_ref(op)
    response.headers["Location"] = f"/v1/reconcile/runs/{op_id}"
    return ref


def _run_view(services: Services, run: ReconcileRunRow) -> schemas.ReconcileRunView:
    with services.store.unit_of_work() as uow:
        op = uow.operations.get(run.id)
        ref = views.operation_ref(op) if op else None
    return schemas.ReconcileRunView(
        id=run.id,
        trigger=run.trigger,
        dry_run=run.dry_run,
        prune=run.prune,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_ms=run.duration_ms,
        counts=dict(run.counts),
        findings=[schemas.FindingView(**f) for f in run.findings],
        repairs=run.repairs,
        errors=list(run.errors),
        operation=ref,
    )


@router.get("/v1/reconcile/runs/latest", responses=ERRORS)
def latest_run(services: ServicesDep, actor: ActorDep) -> schemas.ReconcileRunView:
    with services.store.unit_of_work() as uow:
        run = uow.reconcile_runs.latest()
    if run is None:
        raise NotFoundError("no reconcile has run yet: start one with POST /v1/reconcile")
    return _run_view(services, run)


@router.get("/v1/reconcile/runs/{run_id}", responses=ERRORS)
def show_run(
    run_id: Annotated[str, Path(min_length=1, max_length=32)],
    services: ServicesDep,
    actor: ActorDep,
) -> schemas.ReconcileRunView:
    with services.store.unit_of_work() as uow:
        run = uow.reconcile_runs.get(run_id)
    if run is None:
        raise NotFoundError(f"no reconcile run {run_id!r} (it may not have started yet)")
    return _run_view(services, run)
