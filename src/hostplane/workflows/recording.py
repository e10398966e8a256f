"""Run one step with its intent, outcome, timing and the provider's answer recorded."""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from hostplane import failpoints
from hostplane.domain.errors import HostplaneError, NotFoundError, TemporaryError
from hostplane.domain.sites import Step
from hostplane.observability import STEPS
from hostplane.providers.base import Outcome
from hostplane.store.types import utcnow
from hostplane.store.uow import UnitOfWork
from hostplane.workflows.services import Services
from hostplane.workflows.steps import ACTIONS

log = structlog.get_logger(__name__)

TEMPORARY_ATTEMPTS = 5
BACKOFF_SECONDS = 0.5


def run_step(services: Services, operation_id: str, step: Step, phase: str) -> Outcome:
    """Run the apply or undo of `step` for the operation's site; retry temporary errors."""
    actions = ACTIONS[step]
    action = actions.apply if phase == "apply" else actions.undo
    if action is None:
        return Outcome.UNCHANGED
    # One transaction reads the operation and its site and opens the step's record.
    with services.store.unit_of_work() as uow:
        op = uow.operations.get(operation_id)
        assert op is not None, operation_id
        site = uow.sites.get(op.target_id)
        if site is None:
            raise NotFoundError(f"site {op.target_id} is gone from the state database")
        options = dict(op.options or {})
        record_id = start_record(uow, operation_id, step.value, phase)
    return run_recorded(
        services,
        record_id,
        step.value,
        phase,
        actions.intent,
        lambda: action(services, site, options),
        operation=operation_id,
        site=site.name,
    )


def record_step(
    services: Services,
    operation_id: str,
    name: str,
    phase: str,
    intent: str,
    call: Callable[[], Outcome],
    **context: str,
) -> Outcome:
    """Run `call` as step `name` of the operation, recorded with its outcome and timing;
    a TemporaryError is retried with backoff, anything else fails the step."""
    with services.store.unit_of_work() as uow:
        record_id = start_record(uow, operation_id, name, phase)
    return run_recorded(
        services, record_id, name, phase, intent, call, operation=operation_id, **context
    )


def start_record(uow: UnitOfWork, operation_id: str, name: str, phase: str) -> int:
    """Open the record of one run of a step (committed with `uow`); its id."""
    record = uow.operations.start_step(operation_id, name, phase)
    uow.flush()
    return record.id


def run_recorded(
    services: Services,
    record_id: int,
    name: str,
    phase: str,
    intent: str,
    call: Callable[[], Outcome],
    **context: str,
) -> Outcome:
    """Run `call` for the step record `record_id` and close the record with its outcome."""
    bound = {"step": name, "phase": phase, **context}
    with structlog.contextvars.bound_contextvars(**bound):
        return _run(services, record_id, name, phase, call, intent)


def _run(
    services: Services,
    record_id: int,
    name: str,
    phase: str,
    call: Callable[[], Outcome],
    intent: str,
) -> Outcome:
    log.info("step.start", intent=intent if phase == "apply" else f"undo: {intent}")
    started = time.monotonic()
    delay = BACKOFF_SECONDS
    outcome = Outcome.UNCHANGED
    try:
        for attempt in range(1, TEMPORARY_ATTEMPTS + 1):
            try:
                failpoints.hit(f"{name}.{phase}.before")
                outcome = call()
                failpoints.hit(f"{name}.{phase}.after")
                break
            except TemporaryError as exc:
                if attempt == TEMPORARY_ATTEMPTS:
                    raise
                log.warning("step.retry", attempt=attempt, error=str(exc))
                time.sleep(delay)
                delay *= 2
    except Exception as exc:
        elapsed = (time.monotonic() - started) * 1000
        _finish(services, record_id, "failed", None, describe(exc), elapsed)
        STEPS.labels(name, phase, "failed").observe(elapsed / 1000)
        log.error("step.failed", elapsed_ms=round(elapsed, 1), error=describe(exc))
        raise
    elapsed = (time.monotonic() - started) * 1000
    _finish(services, record_id, "succeeded", outcome.value, None, elapsed)
    STEPS.labels(name, phase, "succeeded").observe(elapsed / 1000)
    log.info("step.done", outcome=outcome.value, elapsed_ms=round(elapsed, 1))
    return outcome


def _finish(
    services: Services,
    record_id: int,
    status: str,
    outcome: str | None,
    detail: str | None,
    elapsed_ms: float,
) -> None:
    with services.store.unit_of_work() as uow:
        record = uow.operations.get_step(record_id)
        assert record is not None
        record.status = status
        record.outcome = outcome
        record.detail = detail
        record.finished_at = utcnow()
        record.elapsed_ms = round(elapsed_ms, 2)


def describe(exc: BaseException) -> str:
    """An error an operator can act on: our message plus the external system's answer."""
    if isinstance(exc, HostplaneError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
