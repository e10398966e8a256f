"""What each step of a domain's workflow does, and how it is undone.

A step re-reads the domain and its site from the database and calls providers
whose every action is idempotent; the edge and the tunnel are regenerated whole
from the database, so "undo" is the same regeneration once the domain has left
the states that are served.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog

from hostplane import naming
from hostplane.domain.dns import evaluate
from hostplane.domain.errors import NotFoundError, ProviderError
from hostplane.domain.lifecycle import DomainStatus
from hostplane.providers.base import Outcome
from hostplane.store.tables import DomainRow, OperationRow, SiteRow
from hostplane.store.transitions import transition
from hostplane.store.types import utcnow
from hostplane.store.uow import UnitOfWork
from hostplane.workflows import certificates
from hostplane.workflows.edge import regenerate_edge, served_domains
from hostplane.workflows.services import Services

log = structlog.get_logger(__name__)

Action = Callable[[Services, DomainRow, SiteRow], Outcome]


@dataclass(frozen=True, slots=True)
class DomainActions:
    apply: Action
    undo: Action | None
    intent: str


def load(uow: UnitOfWork, operation_id: str) -> tuple[OperationRow, DomainRow, SiteRow]:
    op = uow.operations.get(operation_id)
    if op is None:
        raise NotFoundError(f"operation {operation_id} is gone from the state database")
    domain = uow.domains.get(op.target_id)
    if domain is None:
        raise NotFoundError(f"domain of operation {operation_id} is gone")
    site = uow.sites.get(domain.site_id)
    if site is None:
        raise NotFoundError(f"site of domain {domain.name} is gone")
    return op, domain, site


# --- DNS ---------------------------------------------------------------------

WAITING, ROUTING, STOPPED = "waiting", "routing", "stopped"
DNS_NOT_RIGHT = "DNS does not point at the platform"  # the domain's last_error says how


def check_dns(services: Services, operation_id: str, actor: str) -> str:
    """One DNS check: ROUTING when DNS points at the platform; WAITING (domain back to
    PENDING) when not yet; FAILED when it still does not after the configured time;
    STOPPED when the operation was superseded meanwhile."""
    with services.store.unit_of_work() as uow:
        op, domain, _ = load(uow, operation_id)
        if op.finished_at is not None:
            return STOPPED
        if domain.status == DomainStatus.ROUTING:
            return ROUTING  # checked before a crash; the check is not repeated
        if domain.status == DomainStatus.PENDING:
            transition(
                uow,
                "domain",
                domain,
                DomainStatus.VALIDATING,
                reason="checking DNS",
                actor=actor,
                operation_id=op.id,
            )
        elif domain.status != DomainStatus.VALIDATING:
            return STOPPED
        name, started = domain.name, op.started_at or op.created_at
    try:
        verdict = evaluate(services.dns.lookup(name), services.dns_expectation)
        found, explanation, ok = list(verdict.found), verdict.explain(), verdict.ok
    except ProviderError as exc:  # resolvers unreachable: not yet proven, try again later
        found, explanation, ok = [], str(exc), False
    expected = services.dns_expectation.describe()
    with services.store.unit_of_work() as uow:
        op, domain, _ = load(uow, operation_id)
        if op.finished_at is not None or domain.status != DomainStatus.VALIDATING:
            return STOPPED
        domain.last_checked_at = utcnow()
        domain.dns_found = found
        domain.dns_expected = expected
        if ok:
            domain.last_error = None
            target, result = DomainStatus.ROUTING, ROUTING
        else:
            timeout = timedelta(seconds=services.settings.domain_dns_timeout)
            domain.last_error = explanation
            if utcnow() - started >= timeout:
                target, result = DomainStatus.FAILED, DomainStatus.FAILED.value
                explanation = (
                    f"DNS still not right after {services.settings.domain_dns_timeout:g} s: "
                    f"{explanation}"
                )
                domain.last_error = explanation
            else:
                target, result = DomainStatus.PENDING, WAITING
        transition(
            uow, "domain", domain, target, reason=explanation, actor=actor, operation_id=op.id
        )
        log.info("domain.dns_checked", domain=name, ok=ok, found=found, next=result)
        return result


# --- edge --------------------------------------------------------------------


def _route(services: Services, domain: DomainRow, site: SiteRow) -> Outcome:
    outcome = regenerate_edge(services)
    services.edge.confirm(domain.name, naming.edge_route_id(site.name))
    return outcome


def _unroute(services: Services, domain: DomainRow, site: SiteRow) -> Outcome:
    outcome = regenerate_edge(services)
    services.edge.confirm_gone(domain.name)
    return Outcome.DELETED if outcome.changed else Outcome.ABSENT


# --- tunnel ------------------------------------------------------------------


def _tunnel(services: Services, domain: DomainRow, site: SiteRow) -> Outcome:
    assert services.tunnel is not None
    outcome = services.tunnel.apply(tunnel_hostnames(services))
    dns = services.tunnel.ensure_route(domain.name)
    return outcome if outcome.changed else dns


def _untunnel(services: Services, domain: DomainRow, site: SiteRow) -> Outcome:
    assert services.tunnel is not None
    outcome = services.tunnel.apply(tunnel_hostnames(services))
    dns = services.tunnel.remove_route(domain.name)
    return outcome if outcome.changed else dns


def tunnel_hostnames(services: Services) -> list[str]:
    """Custom domains the tunnel carries: those the edge serves."""
    with services.store.unit_of_work() as uow:
        _, served = served_domains(uow)
        return sorted(d.name for ds in served.values() for d in ds)


ACTIONS: dict[str, DomainActions] = {
    "route": DomainActions(_route, _unroute, "the edge routing the domain to its site"),
    "certificate": DomainActions(
        certificates.ensure, certificates.remove, "a certificate for the domain served at the edge"
    ),
    "tunnel": DomainActions(_tunnel, _untunnel, "the tunnel carrying the domain to the edge"),
    "upload": DomainActions(
        certificates.install_upload,
        certificates.restore_previous,
        "the uploaded certificate presented by the edge",
    ),
    "renew": DomainActions(
        lambda services, domain, site: certificates.renew(services, domain),
        None,
        "a renewed certificate served at the edge",
    ),
}


def plan(services: Services) -> list[str]:
    """Steps after DNS is proven, in order."""
    steps = ["route"]
    if services.acme is not None:
        steps.append("certificate")
    if services.tunnel is not None:
        steps.append("tunnel")
    return steps


def removal_plan(services: Services) -> list[str]:
    """Every step undone in reverse; the certificate always (it may have been uploaded)."""
    steps = ["route", "certificate"]
    if services.tunnel is not None:
        steps.append("tunnel")
    return list(reversed(steps))
