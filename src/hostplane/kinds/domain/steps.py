"""What each step of a domain's sagas does, and how it is undone.

A step re-reads the domain and its site from the database and calls providers
whose every action is idempotent; the edge and the tunnel are regenerated whole
from the database, so "undo" is the same regeneration once the domain has left
the states that are served.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import structlog

from hostplane import naming
from hostplane.errors import NotFoundError, ProviderError
from hostplane.kernel import runtime
from hostplane.kernel.outcome import Outcome
from hostplane.kernel.steps import Options, StepDef
from hostplane.kernel.store.tables import OperationRow
from hostplane.kernel.store.types import utcnow
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kernel.transition import transition
from hostplane.kinds.domain.model import LIFECYCLE, DomainStatus, Step, probe_host
from hostplane.kinds.domain.repo import DomainTarget, load_target, served_domains
from hostplane.kinds.domain.table import DomainRow
from hostplane.kinds.site.edge import apply_site
from hostplane.kinds.tenant.model import DOMAIN_STEPS
from hostplane.providers.dnscheck.verdict import evaluate
from hostplane.services import Services

log = structlog.get_logger(__name__)


def load(uow: UnitOfWork, operation_id: str) -> tuple[OperationRow, DomainTarget]:
    op = uow.operations.get(operation_id)
    if op is None:
        raise NotFoundError(f"operation {operation_id} is gone from the state database")
    return op, load_target(uow, op)


# --- DNS ---------------------------------------------------------------------

WAITING, ROUTING, STOPPED = "waiting", "routing", "stopped"
DNS_NOT_RIGHT = "DNS does not point at the platform"  # the domain's last_error says how


@dataclass(frozen=True, slots=True)
class _Lookup:
    found: list[str]
    explanation: str
    ok: bool


def check_dns(services: Services, operation_id: str) -> str:
    """One DNS check: ROUTING when DNS points at the platform; WAITING (domain back to
    PENDING) when not yet; FAILED when it still does not after the configured time;
    STOPPED when the operation was superseded meanwhile."""
    with services.store.unit_of_work() as uow:
        op, target = load(uow, operation_id)
        early = _start_check(uow, op, target.domain)
        if early is not None:
            return early
        name = target.domain.name
    lookup = _lookup(services, name)
    with services.store.unit_of_work() as uow:
        op, target = load(uow, operation_id)
        if op.finished_at is not None or target.domain.status != DomainStatus.VALIDATING:
            return STOPPED
        return _record_check(services, uow, op, target.domain, lookup)


def _start_check(uow: UnitOfWork, op: OperationRow, domain: DomainRow) -> str | None:
    """Into VALIDATING; a verdict already known (checked before a crash, superseded)."""
    if op.finished_at is not None:
        return STOPPED
    if domain.status == DomainStatus.ROUTING:
        return ROUTING  # checked before a crash; the check is not repeated
    if domain.status == DomainStatus.PENDING:
        transition(
            uow,
            LIFECYCLE,
            domain,
            DomainStatus.VALIDATING,
            reason="checking DNS",
            actor=op.actor,
            operation_id=op.id,
        )
    elif domain.status != DomainStatus.VALIDATING:
        return STOPPED
    return None


def _lookup(services: Services, name: str) -> _Lookup:
    try:
        verdict = evaluate(services.dns.lookup(probe_host(name)), services.dns_expectation)
    except ProviderError as exc:  # resolvers unreachable: not yet proven, try again later
        return _Lookup([], str(exc), False)
    return _Lookup(list(verdict.found), verdict.explain(), verdict.ok)


def _record_check(
    services: Services, uow: UnitOfWork, op: OperationRow, domain: DomainRow, lookup: _Lookup
) -> str:
    domain.last_checked_at = utcnow()
    domain.dns_found = lookup.found
    domain.dns_expected = services.dns_expectation.describe()
    explanation = lookup.explanation
    domain.last_error = None if lookup.ok else explanation
    if lookup.ok:
        status, result = DomainStatus.ROUTING, ROUTING
    elif utcnow() - (op.started_at or op.created_at) >= timedelta(
        seconds=services.settings.domain_dns_timeout
    ):
        explanation = (
            f"DNS still not right after {services.settings.domain_dns_timeout:g} s: {explanation}"
        )
        domain.last_error = explanation
        status, result = DomainStatus.FAILED, DomainStatus.FAILED.value
    else:
        status, result = DomainStatus.PENDING, WAITING
    transition(
        uow, LIFECYCLE, domain, status, reason=explanation, actor=op.actor, operation_id=op.id
    )
    log.info(
        "domain.dns_checked", domain=domain.name, ok=lookup.ok, found=lookup.found, next=result
    )
    return result


# --- edge ----------------------------------------------------------------------


def _route(services: Services, target: DomainTarget, options: Options) -> Outcome:
    outcome = apply_site(services, target.site, gone=(target.domain.name,))
    services.edge.confirm(probe_host(target.domain.name), naming.edge_route_id(target.site.name))
    return outcome


def _unroute(services: Services, target: DomainTarget, options: Options) -> Outcome:
    outcome = apply_site(services, target.site, gone=(target.domain.name,))
    services.edge.confirm_gone(probe_host(target.domain.name))
    return Outcome.DELETED if outcome.changed else Outcome.ABSENT


# --- tunnel ------------------------------------------------------------------


def _tunnel(services: Services, target: DomainTarget, options: Options) -> Outcome:
    assert services.tunnel is not None
    outcome = services.tunnel.apply(tunnel_hostnames(services))
    dns = services.tunnel.ensure_route(target.domain.name)
    return outcome if outcome.changed else dns


def _untunnel(services: Services, target: DomainTarget, options: Options) -> Outcome:
    assert services.tunnel is not None
    outcome = services.tunnel.apply(tunnel_hostnames(services))
    dns = services.tunnel.remove_route(target.domain.name)
    return outcome if outcome.changed else dns


def tunnel_hostnames(services: Services) -> list[str]:
    """Custom domains the tunnel carries: those the edge serves."""
    with services.store.unit_of_work() as uow:
        served = served_domains(uow)
        return sorted(d.name for ds in served.values() for d in ds)


STEPS: tuple[StepDef[DomainTarget], ...] = (
    StepDef(Step.ROUTE, _route, _unroute, "the edge routing the domain to its site"),
    StepDef(Step.TUNNEL, _tunnel, _untunnel, "the tunnel carrying the domain to the edge"),
)


def before_dns(
    services: Services, uow: UnitOfWork, target: DomainTarget, *, removal: bool
) -> list[str]:
    """Other kinds' steps for this domain before its DNS check (tenant.DOMAIN_STEPS)."""
    return steps_of_others(services, uow, target.domain.name, target.site.tenant_id, removal)


def steps_of_others(
    services: Services, uow: UnitOfWork, name: str, tenant_id: str | None, removal: bool
) -> list[str]:
    return [
        step
        for point in runtime.registry().contributions(DOMAIN_STEPS)
        for step in point(services, uow, name, tenant_id, removal=removal)
    ]


def plan(services: Services, uow: UnitOfWork, target: DomainTarget) -> tuple[str, ...]:
    """The steps of an addition in order; Step.DNS marks where the workflow proves DNS (it is
    not a step the saga runs). The certificate step is the certificate kind's."""
    steps = [*before_dns(services, uow, target, removal=False), Step.DNS, Step.ROUTE]
    if services.acme is not None:
        steps.append(Step.CERTIFICATE)
    if services.tunnel is not None:
        steps.append(Step.TUNNEL)
    return tuple(steps)


def split_at_dns(steps: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the steps before the DNS check, those after); a plan checkpointed before DOMAIN_STEPS
    existed has no DNS mark: all its steps come after."""
    if Step.DNS not in steps:
        return (), tuple(steps)
    at = list(steps).index(Step.DNS)
    return tuple(steps[:at]), tuple(steps[at + 1 :])


def removal_plan(services: Services, uow: UnitOfWork, target: DomainTarget) -> tuple[str, ...]:
    """Every step undone in reverse; the certificate always (it may have been uploaded)."""
    steps = [*before_dns(services, uow, target, removal=True), Step.ROUTE, Step.CERTIFICATE]
    if services.tunnel is not None:
        steps.append(Step.TUNNEL)
    return tuple(reversed(steps))
