"""The domain's sagas: add (other kinds' steps for it first, such as a hosted zone writing its
records; then DNS proven, then route, certificate, tunnel) and remove.

As with every kind, the workflows only orchestrate; every read and write is a checkpointed
step. While DNS is not right yet the workflow sleeps durably and checks again with backoff,
so a restart neither loses nor repeats the wait.
"""

from __future__ import annotations

from dataclasses import dataclass

from dbos import DBOS

from hostplane import failpoints
from hostplane.kernel import runtime, saga
from hostplane.kernel.kind import Plan
from hostplane.kernel.outcome import Outcome
from hostplane.kernel.steps import describe, record_step
from hostplane.kinds.domain import steps
from hostplane.kinds.domain.model import Step


@dataclass(frozen=True, slots=True)
class DnsCheck:
    verdict: str  # steps.ROUTING, WAITING, STOPPED or FAILED
    recheck_initial: float  # seconds before the first re-check, doubling up to recheck_max
    recheck_max: float


@DBOS.step(**saga.STATE_DB_RETRY)
def dns_step(operation_id: str) -> DnsCheck:
    services = runtime.context()
    verdicts: list[str] = []

    def check() -> Outcome:
        verdicts.append(steps.check_dns(services, operation_id))
        return Outcome.UNCHANGED

    record_step(
        services.store, operation_id, Step.DNS, "apply", "DNS pointing at the platform", check
    )
    settings = services.settings
    return DnsCheck(verdicts[0], settings.domain_recheck_initial, settings.domain_recheck_max)


@DBOS.workflow()
def add_domain(operation_id: str) -> str:
    plan = saga.begin_step(operation_id)
    if plan.finished:
        return saga.SUPERSEDED
    before, after = steps.split_at_dns(plan.steps)
    started: list[str] = []
    try:
        saga.apply_each(operation_id, before, started)
    except Exception as exc:
        return saga.compensate(operation_id, started, describe(exc))
    verdict = prove_dns(operation_id)
    if verdict == steps.STOPPED:
        return saga.SUPERSEDED
    if verdict != steps.ROUTING:  # FAILED: the domain's last error says why
        if started:
            return saga.compensate(operation_id, started, steps.DNS_NOT_RIGHT)
        return saga.finish_step(operation_id, steps.DNS_NOT_RIGHT)
    return saga.apply_all(operation_id, Plan(after), done=started)


def prove_dns(operation_id: str) -> str:
    """Check DNS until it is right (ROUTING), the time is up (FAILED) or the operation was
    superseded (STOPPED), sleeping durably with backoff between checks."""
    delay: float | None = None
    while True:
        check = dns_step(operation_id)
        failpoints.hit("dns.apply.checkpointed")
        if check.verdict != steps.WAITING:
            return check.verdict
        delay = check.recheck_initial if delay is None else min(delay * 2, check.recheck_max)
        DBOS.sleep(delay)


@DBOS.workflow()
def remove_domain(operation_id: str) -> str:
    return saga.run(operation_id)
