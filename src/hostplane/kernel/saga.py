"""One saga for every kind: apply the steps in order, undo the started ones in reverse.

Workflows orchestrate and do no I/O of their own: every read and write is a checkpointed
DBOS step, so a resumed workflow replays to where it stopped and a crash in the middle of a
compensation resumes it. The kind of the operation (found in the registry by the operation's
kind) says what the steps work on and how its resource moves through its lifecycle; the
steps are looked up by name, so a plan may name a step another kind defines (a domain's plan
names the certificate kind's step) without importing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from dbos import DBOS

from hostplane import failpoints
from hostplane.errors import NotFoundError
from hostplane.kernel import runtime
from hostplane.kernel.kind import Kind, Plan, SagaHooks
from hostplane.kernel.lifecycle import OperationStatus
from hostplane.kernel.outcome import Outcome
from hostplane.kernel.steps import describe, run_recorded, start_record
from hostplane.kernel.store.db import transient
from hostplane.kernel.store.tables import OperationRow
from hostplane.kernel.store.types import utcnow
from hostplane.kernel.store.uow import UnitOfWork

log = structlog.get_logger(__name__)

SUPERSEDED = "superseded"
# The steps that move an operation and its target (begin, compensating, finish; a domain's
# DNS check) run outside the saga's error handling: one that fails ends the workflow with its
# operation unfinished and its target's slot held for good (every later request a 409). A
# moment without the state database is therefore tried again (0.5 s, doubling: a minute).
STATE_DB_RETRY: dict[str, Any] = {
    "retries_allowed": True,
    "max_attempts": 8,
    "interval_seconds": 0.5,
    "backoff_rate": 2.0,
    "should_retry": transient,
}


def _operation(uow: UnitOfWork, operation_id: str) -> tuple[OperationRow, SagaHooks[Any]]:
    op = uow.operations.get(operation_id)
    if op is None:
        raise NotFoundError(f"operation {operation_id} is gone from the state database")
    kind: Kind[Any] = runtime.registry().for_operation(op.kind)
    assert kind.saga is not None, f"kind {kind.name} runs no sagas"
    return op, kind.saga


@DBOS.step(**STATE_DB_RETRY)
def begin_step(operation_id: str) -> Plan:
    """Mark the operation running and let its kind move the resource into its working state;
    the plan it returns is checkpointed, so a resumed workflow runs the same steps."""
    ctx = runtime.context()
    with ctx.store.unit_of_work() as uow:
        op, hooks = _operation(uow, operation_id)
        target = hooks.load(uow, op)
        if op.finished_at is not None:
            return Plan((), finished=True)
        if op.status == OperationStatus.PENDING:
            op.status = OperationStatus.RUNNING
            op.started_at = utcnow()
        return hooks.begin(ctx, uow, op, target)


def run_step(operation_id: str, name: str, phase: str) -> Outcome:
    """The apply or undo of step `name` for the operation's target, recorded."""
    ctx = runtime.context()
    step = runtime.registry().step(name)
    action = step.action(phase)
    if action is None:
        return Outcome.UNCHANGED
    # One transaction reads the operation and its target and opens the step's record.
    with ctx.store.unit_of_work() as uow:
        op, hooks = _operation(uow, operation_id)
        target = hooks.load(uow, op)
        options = dict(op.options or {})
        record_id = start_record(uow, operation_id, name, phase)
    return run_recorded(
        ctx.store,
        record_id,
        name,
        phase,
        step.intent,
        lambda: action(ctx, target, options),
        step.retry,
        operation=operation_id,
        **hooks.log_context(target),
    )


@DBOS.step()
def apply_step(operation_id: str, step: str) -> str:
    return run_step(operation_id, step, "apply").value


@DBOS.step()
def undo_step(operation_id: str, step: str) -> str:
    return run_step(operation_id, step, "undo").value


@DBOS.step(**STATE_DB_RETRY)
def compensating_step(operation_id: str, error: str) -> None:
    ctx = runtime.context()
    with ctx.store.unit_of_work() as uow:
        op, hooks = _operation(uow, operation_id)
        if op.status == OperationStatus.RUNNING:
            op.status = OperationStatus.COMPENSATING
            op.error = error
        hooks.failed(ctx, uow, op, hooks.load(uow, op), error)


@DBOS.step(**STATE_DB_RETRY)
def finish_step(operation_id: str, error: str | None) -> str:
    """Commit the end state (the kind's, then the operation's); idempotent."""
    ctx = runtime.context()
    with ctx.store.unit_of_work() as uow:
        op, hooks = _operation(uow, operation_id)
        if op.finished_at is not None:
            return str(op.status)
        error = hooks.finish(ctx, uow, op, hooks.load(uow, op), error)
        status = OperationStatus.SUCCEEDED if error is None else OperationStatus.FAILED
        uow.operations.finish(op, status, error)
        log.info(
            "operation.finished",
            operation=op.id,
            kind=op.kind,
            target=op.target_name,
            status=str(status),
        )
        return str(status)


def run(operation_id: str) -> str:
    """The whole saga of an operation (call it from a kind's workflow)."""
    plan = begin_step(operation_id)
    if plan.finished:
        return SUPERSEDED
    return run_plan(operation_id, plan)


def run_plan(operation_id: str, plan: Plan) -> str:
    if plan.undo:
        return undo_all(operation_id, plan)
    return apply_all(operation_id, plan)


def apply_each(operation_id: str, steps: Sequence[str], started: list[str]) -> None:
    """Apply `steps` in order, each appended to `started` before it runs (the failing one
    too: undo is idempotent); a failure propagates."""
    for step in steps:
        started.append(step)
        apply_step(operation_id, step)
        failpoints.hit(f"{step}.apply.checkpointed")


def apply_all(operation_id: str, plan: Plan, done: Sequence[str] = ()) -> str:
    """Apply the steps in order; on a failure undo, in reverse, every step started (and those
    `done` before them), or only record the failure without compensation."""
    started = list(done)
    try:
        apply_each(operation_id, plan.steps, started)
    except Exception as exc:
        if not plan.compensate:
            return finish_step(operation_id, f"{plan.failure}: {describe(exc)}")
        return compensate(operation_id, started, describe(exc))
    return finish_step(operation_id, None)


def compensate(operation_id: str, started: list[str], error: str) -> str:
    compensating_step(operation_id, error)
    failures = []
    registry = runtime.registry()
    for step in reversed(started):
        if registry.step(step).undo is None:
            continue
        try:
            undo_step(operation_id, step)
        except Exception as exc:
            failures.append(f"undo of {step} failed: {describe(exc)}")
    return finish_step(operation_id, "; ".join([error, *failures]))


def undo_all(operation_id: str, plan: Plan) -> str:
    """A teardown: undo each step in order; stop at the first that fails."""
    try:
        for step in plan.steps:
            undo_step(operation_id, step)
            failpoints.hit(f"{step}.undo.checkpointed")
    except Exception as exc:
        return finish_step(operation_id, f"{plan.failure}: {describe(exc)}")
    return finish_step(operation_id, None)
