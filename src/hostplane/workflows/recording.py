"""Run one step with its intent, outcome, timing and the provider's answer recorded."""

from __future__ import annotations

import time

import structlog

from hostplane.domain.errors import HostplaneError, TemporaryError
from hostplane.domain.sites import Step
from hostplane.observability import STEPS
from hostplane.providers.base import Outcome
from hostplane.store.tables import SiteRow
from hostplane.store.types import utcnow
from hostplane.workflows.services import Services
from hostplane.workflows.steps import ACTIONS, Action, load_site

log = structlog.get_logger(__name__)

TEMPORARY_ATTEMPTS = 5
BACKOFF_SECONDS = 0.5


def run_step(services: Services, operation_id: str, step: Step, phase: str) -> Outcome:
    """Run the apply or undo of `step` for the operation's site; retry temporary errors."""
    with services.store.unit_of_work() as uow:
        op = uow.operations.get(operation_id)
        assert op is not None, operation_id
        site_id, options = op.target_id, dict(op.options or {})
        record = uow.operations.start_step(operation_id, step.value, phase)
        uow.flush()
        record_id = record.id
    site = load_site(services, site_id)
    actions = ACTIONS[step]
    action = actions.apply if phase == "apply" else actions.undo
    context = {"site": site.name, "operation": operation_id, "step": step.value, "phase": phase}
    with structlog.contextvars.bound_contextvars(**context):
        return _run(services, record_id, step, phase, action, actions.intent, site, options)


def _run(
    services: Services,
    record_id: int,
    step: Step,
    phase: str,
    action: Action | None,
    intent: str,
    site: SiteRow,
    options: dict[str, object],
) -> Outcome:
    log.info("step.start", intent=intent if phase == "apply" else f"undo: {intent}")
    started = time.monotonic()
    delay = BACKOFF_SECONDS
    outcome = Outcome.UNCHANGED
    try:
        for attempt in range(1, TEMPORARY_ATTEMPTS + 1):
            try:
                outcome = action(services, site, options) if action else Outcome.UNCHANGED
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
        STEPS.labels(step.value, phase, "failed").observe(elapsed / 1000)
        log.error("step.failed", elapsed_ms=round(elapsed, 1), error=describe(exc))
        raise
    elapsed = (time.monotonic() - started) * 1000
    _finish(services, record_id, "succeeded", outcome.value, None, elapsed)
    STEPS.labels(step.value, phase, "succeeded").observe(elapsed / 1000)
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
