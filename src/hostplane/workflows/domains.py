"""The domain workflows: add (DNS proven, then route, certificate, tunnel), remove, renew.

As with sites, the workflows only orchestrate; every read and write is a
checkpointed step. While DNS is not right yet the workflow sleeps durably and
checks again with backoff, so a restart neither loses nor repeats the wait.
"""

from __future__ import annotations

from dbos import DBOS

from hostplane import failpoints
from hostplane.providers.base import Outcome
from hostplane.workflows import domain_lifecycle, domain_steps
from hostplane.workflows.recording import describe, record_step, run_recorded, start_record
from hostplane.workflows.services import Services, current


@DBOS.step()
def domain_begin_step(operation_id: str) -> dict[str, object]:
    return domain_lifecycle.begin(current(), operation_id)


@DBOS.step()
def dns_step(operation_id: str, actor: str) -> str:
    services = current()
    outcome: list[str] = []

    def check() -> Outcome:
        outcome.append(domain_steps.check_dns(services, operation_id, actor))
        return Outcome.UNCHANGED

    record_step(services, operation_id, "dns", "apply", "DNS pointing at the platform", check)
    return outcome[0]


def _run(services: Services, operation_id: str, step: str, phase: str) -> str:
    actions = domain_steps.ACTIONS[step]
    action = actions.apply if phase == "apply" else actions.undo
    if action is None:
        return Outcome.UNCHANGED.value
    with services.store.unit_of_work() as uow:
        _, domain, site = domain_steps.load(uow, operation_id)
        record_id = start_record(uow, operation_id, step, phase)
    return run_recorded(
        services,
        record_id,
        step,
        phase,
        actions.intent,
        lambda: action(services, domain, site),
        operation=operation_id,
        domain=domain.name,
        site=site.name,
    ).value


@DBOS.step()
def domain_apply_step(operation_id: str, step: str) -> str:
    return _run(current(), operation_id, step, "apply")


@DBOS.step()
def domain_undo_step(operation_id: str, step: str) -> str:
    return _run(current(), operation_id, step, "undo")


@DBOS.step()
def domain_failed_step(operation_id: str, error: str) -> None:
    domain_lifecycle.mark_failed(current(), operation_id, error)


@DBOS.step()
def domain_finish_step(operation_id: str, error: str | None) -> str:
    return domain_lifecycle.finish(current(), operation_id, error)


def _steps(begun: dict[str, object]) -> list[str]:
    steps = begun["steps"]
    assert isinstance(steps, list)
    return [str(s) for s in steps]


def _apply_or_compensate(operation_id: str, steps: list[str]) -> str:
    """Apply the steps in order; on a failure mark the operation failed (an added domain
    leaves the served states) and undo, in reverse, every step started."""
    started: list[str] = []
    try:
        for step in steps:
            started.append(step)  # the failing step is undone too: undo is idempotent
            domain_apply_step(operation_id, step)
            failpoints.hit(f"{step}.apply.checkpointed")
    except Exception as exc:
        error = describe(exc)
        domain_failed_step(operation_id, error)
        failures = []
        for step in reversed(started):
            try:
                domain_undo_step(operation_id, step)
            except Exception as undo_exc:
                failures.append(f"undo of {step} failed: {describe(undo_exc)}")
        return domain_finish_step(operation_id, "; ".join([error, *failures]))
    return domain_finish_step(operation_id, None)


@DBOS.workflow()
def add_domain(operation_id: str) -> str:
    begun = domain_begin_step(operation_id)
    if begun["finished"]:
        return "superseded"
    delay = float(str(begun["recheck_initial"]))
    longest = float(str(begun["recheck_max"]))
    while True:
        verdict = dns_step(operation_id, str(begun["actor"]))
        failpoints.hit("dns.apply.checkpointed")
        if verdict == domain_steps.ROUTING:
            break
        if verdict != domain_steps.WAITING:  # FAILED (finished below) or superseded
            if verdict == domain_steps.STOPPED:
                return "superseded"
            return domain_finish_step(operation_id, domain_steps.DNS_NOT_RIGHT)
        DBOS.sleep(delay)
        delay = min(delay * 2, longest)
    return _apply_or_compensate(operation_id, _steps(begun))


@DBOS.workflow()
def remove_domain(operation_id: str) -> str:
    begun = domain_begin_step(operation_id)
    try:
        for step in _steps(begun):
            domain_undo_step(operation_id, step)
            failpoints.hit(f"{step}.undo.checkpointed")
    except Exception as exc:
        return domain_finish_step(operation_id, f"removal stopped at a step: {describe(exc)}")
    return domain_finish_step(operation_id, None)


@DBOS.workflow()
def upload_certificate(operation_id: str) -> str:
    return _apply_or_compensate(operation_id, _steps(domain_begin_step(operation_id)))


@DBOS.workflow()
def renew_certificate(operation_id: str) -> str:
    begun = domain_begin_step(operation_id)
    try:
        for step in _steps(begun):
            domain_apply_step(operation_id, step)
    except Exception as exc:
        return domain_finish_step(operation_id, f"renewal failed: {describe(exc)}")
    return domain_finish_step(operation_id, None)
