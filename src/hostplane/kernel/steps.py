"""Step definitions with their retry policy, and the recorded run of one step.

A kind declares each step of its sagas as a `StepDef`: what it does (`apply`), how it is
undone (`undo`, None when there is nothing to undo), what it sets out to do (`intent`, for the
logs) and how its temporary errors are retried. Every run is recorded in the state database
with its outcome, timing and the provider's answer.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import structlog

from hostplane import failpoints
from hostplane.errors import ConflictError, HostplaneError, TemporaryError
from hostplane.kernel.lifecycle import OperationStatus
from hostplane.kernel.operations import Target, take_repair_slot
from hostplane.kernel.outcome import Outcome
from hostplane.kernel.store.uow import Store, UnitOfWork
from hostplane.observability import STEPS

log = structlog.get_logger(__name__)

T = TypeVar("T")
Options = Mapping[str, object]
# A step's action: (the composition root, what the operation works on, its options).
Action = Callable[[Any, T, Options], Outcome]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A TemporaryError is retried `attempts` times in all, `backoff` seconds apart at first,
    doubling; any other error fails the step at once."""

    attempts: int = 5
    backoff: float = 0.5


@dataclass(frozen=True, slots=True)
class StepDef(Generic[T]):
    name: str
    apply: Action[T] | None
    undo: Action[T] | None
    intent: str  # what apply sets out to do; undo reverses it
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def action(self, phase: str) -> Action[T] | None:
        return self.apply if phase == "apply" else self.undo


def start_record(uow: UnitOfWork, operation_id: str, name: str, phase: str) -> int:
    """Open the record of one run of a step (committed with `uow`); its id."""
    record = uow.operations.start_step(operation_id, name, phase)
    uow.flush()
    return record.id


def record_step(
    store: Store,
    operation_id: str,
    name: str,
    phase: str,
    intent: str,
    call: Callable[[], Outcome],
    retry: RetryPolicy | None = None,
    **context: str,
) -> Outcome:
    """Run `call` as step `name` of the operation, recorded with its outcome and timing."""
    with store.unit_of_work() as uow:
        record_id = start_record(uow, operation_id, name, phase)
    return run_recorded(
        store, record_id, name, phase, intent, call, retry, operation=operation_id, **context
    )


def run_recorded(
    store: Store,
    record_id: int,
    name: str,
    phase: str,
    intent: str,
    call: Callable[[], Outcome],
    retry: RetryPolicy | None = None,
    **context: str,
) -> Outcome:
    """Run `call` for the step record `record_id` and close the record with its outcome."""
    bound = {"step": name, "phase": phase, **context}
    with structlog.contextvars.bound_contextvars(**bound):
        log.info("step.start", intent=intent if phase == "apply" else f"undo: {intent}")
        started = time.monotonic()
        try:
            outcome = _with_retries(name, phase, call, retry or RetryPolicy())
        except Exception as exc:
            elapsed = (time.monotonic() - started) * 1000
            _finish(store, record_id, "failed", None, describe(exc), elapsed)
            STEPS.labels(name, phase, "failed").observe(elapsed / 1000)
            log.error("step.failed", elapsed_ms=round(elapsed, 1), error=describe(exc))
            raise
        elapsed = (time.monotonic() - started) * 1000
        _finish(store, record_id, "succeeded", outcome.value, None, elapsed)
        STEPS.labels(name, phase, "succeeded").observe(elapsed / 1000)
        log.info("step.done", outcome=outcome.value, elapsed_ms=round(elapsed, 1))
        return outcome


def _with_retries(
    name: str, phase: str, call: Callable[[], Outcome], retry: RetryPolicy
) -> Outcome:
    delay = retry.backoff
    for attempt in range(1, retry.attempts + 1):
        try:
            failpoints.hit(f"{name}.{phase}.before")
            outcome = call()
            failpoints.hit(f"{name}.{phase}.after")
            return outcome
        except TemporaryError as exc:
            if attempt == retry.attempts:
                raise
            log.warning("step.retry", attempt=attempt, error=str(exc))
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable: the last attempt returns or raises")


def _finish(
    store: Store,
    record_id: int,
    status: str,
    outcome: str | None,
    detail: str | None,
    elapsed_ms: float,
) -> None:
    with store.unit_of_work() as uow:
        uow.operations.finish_step(record_id, status, outcome, detail, elapsed_ms)


def describe(exc: BaseException) -> str:
    """An error an operator can act on: our message plus the external system's answer."""
    if isinstance(exc, HostplaneError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def record_apply(
    store: Store, operation_id: str, step: StepDef[T], ctx: Any, target: T, **context: str
) -> Outcome:
    """Run `step`'s apply on `target` alone, recorded (a reconcile's repair of one step)."""
    action = step.apply
    assert action is not None, f"step {step.name} has no apply"
    call = functools.partial(action, ctx, target, {})
    name, intent, retry = step.name, step.intent, step.retry
    return record_step(store, operation_id, name, "apply", intent, call, retry, **context)


REPAIRED = "repaired"


def run_repair(store: Store, operation_id: str, work: Callable[[], object]) -> str:
    """Run a reconcile's repair `work` under its operation, then finish that operation (once:
    a resumed run finds it finished); "repaired", or "failed: <why>"."""
    error = None
    try:
        work()
    except Exception as exc:
        error = describe(exc)
    with store.unit_of_work() as uow:
        op = uow.operations.get(operation_id)
        assert op is not None
        if op.finished_at is None:
            status = OperationStatus.SUCCEEDED if error is None else OperationStatus.FAILED
            uow.operations.finish(op, status, error)
    return REPAIRED if error is None else f"failed: {error}"


R = TypeVar("R", bound=Target)


def repair_row(
    store: Store,
    *,
    run_id: str,
    steps: list[str],
    kind: str,
    target_kind: str,
    actor: str,
    load: Callable[[UnitOfWork], R],
    work: Callable[[R, str], object],
) -> str:
    """A reconcile's repair of one row: `load` reads it (ConflictError when it is no longer
    to be repaired), its operation slot is taken (or the same repair's, after a crash), then
    `work(row, operation id)` runs under it (run_repair). "skipped: <why>" when the row is
    gone or another operation holds it."""
    try:
        with store.unit_of_work() as uow:
            row = load(uow)
            op_id = take_repair_slot(
                uow,
                kind=kind,
                target_kind=target_kind,
                target_name=row.name,
                target_id=row.id,
                run_id=run_id,
                steps=steps,
                actor=actor,
                scope=row.scope,
            )
    except ConflictError as exc:
        return f"skipped: {exc}"
    return run_repair(store, op_id, lambda: work(row, op_id))
