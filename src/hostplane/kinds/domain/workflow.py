"""The domain's sagas: add (DNS proven, then route, certificate, tunnel) and remove.

As with every kind, the workflows only orchestrate; every read and write is a checkpointed
step. While DNS is not right yet the workflow sleeps durably and checks again with backoff,
so a restart neither loses nor repeats the wait.
"""

from __future__ import annotations

from dataclasses import dataclass

from dbos import DBOS

from hostplane import failpoints
from hostplane.kernel import runtime, saga
from hostplane.kernel.outcome import Outcome
from hostplane.kernel.steps import record_step
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
    delay: float | None = None
    while True:
        check = dns_step(operation_id)
        failpoints.hit("dns.apply.checkpointed")
        if check.verdict == steps.ROUTING:
            break
        if check.verdict == steps.STOPPED:
            return saga.SUPERSEDED
        if check.verdict != steps.WAITING:  # FAILED: the domain's last error says why
            return saga.finish_step(operation_id, steps.DNS_NOT_RIGHT)
        delay = check.recheck_initial if delay is None else min(delay * 2, check.recheck_max)
        DBOS.sleep(delay)
    return saga.apply_all(operation_id, plan)


@DBOS.workflow()
def remove_domain(operation_id: str) -> str:
    return saga.run(operation_id)
