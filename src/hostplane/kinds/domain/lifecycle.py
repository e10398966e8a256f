"""How a domain's operations move it through its lifecycle: the saga hooks the kernel calls.

Each runs in the kernel's transaction for its step and is idempotent.
"""

from __future__ import annotations

from hostplane.kernel import runtime
from hostplane.kernel.kind import Plan
from hostplane.kernel.store.tables import OperationRow
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kernel.transition import transition
from hostplane.kinds.domain.model import KIND, LIFECYCLE, DomainOp, DomainStatus
from hostplane.kinds.domain.repo import DomainTarget, domains, load_target
from hostplane.kinds.domain.steps import DNS_NOT_RIGHT, plan, removal_plan
from hostplane.kinds.domain.table import DomainRow
from hostplane.kinds.site.table import SiteRow
from hostplane.services import Services


def snapshot(domain: DomainRow, site_name: str) -> dict[str, object]:
    return {
        "id": domain.id,
        "name": domain.name,
        "site": site_name,
        "status": domain.status,
        "cert_source": domain.cert_source,
        "cert_fingerprint": domain.cert_fingerprint,
        "created_at": domain.created_at.isoformat(),
    }


class OnDomain:
    """What the sagas of operations on a domain (its own, its certificate's) work on."""

    def load(self, uow: UnitOfWork, op: OperationRow) -> DomainTarget:
        return load_target(uow, op)

    def log_context(self, target: DomainTarget) -> dict[str, str]:
        return {"domain": target.domain.name, "site": target.site.name}


class DomainSaga(OnDomain):
    """Adding proves DNS (the workflow's own loop), then routes, certifies and tunnels;
    removing undoes all of it."""

    def begin(self, ctx: Services, uow: UnitOfWork, op: OperationRow, target: DomainTarget) -> Plan:
        if op.kind == DomainOp.ADD:
            return Plan(plan(ctx, uow, target))
        return Plan(removal_plan(ctx, uow, target), undo=True, failure="removal stopped at a step")

    def failed(
        self, ctx: Services, uow: UnitOfWork, op: OperationRow, target: DomainTarget, error: str
    ) -> None:
        """A step of an addition failed: the domain leaves the served states first, so that
        regenerating the edge and the tunnel (the undo of every step) drops it."""
        domain = target.domain
        if op.kind == DomainOp.ADD and domain.status != DomainStatus.FAILED:
            domain.last_error = error
            transition(
                uow,
                LIFECYCLE,
                domain,
                DomainStatus.FAILED,
                reason=error,
                actor=op.actor,
                operation_id=op.id,
            )

    def finish(
        self,
        ctx: Services,
        uow: UnitOfWork,
        op: OperationRow,
        target: DomainTarget,
        error: str | None,
    ) -> str | None:
        domain = target.domain
        if error == DNS_NOT_RIGHT and domain.last_error:
            error = domain.last_error  # what was found against what was expected
        if op.kind == DomainOp.ADD:
            status = DomainStatus.ACTIVE if error is None else DomainStatus.FAILED
            reason = "routed and confirmed" if error is None else error
        else:
            status = DomainStatus.REMOVED if error is None else DomainStatus.FAILED
            reason = "route, certificate and tunnel rule removed" if error is None else error
        domain.last_error = error
        if domain.status != status:
            transition(
                uow, LIFECYCLE, domain, status, reason=reason, actor=op.actor, operation_id=op.id
            )
        if status == DomainStatus.REMOVED:
            uow.audit.record(
                actor=op.actor,
                action="domain.removed",
                target_kind="domain",
                target_name=domain.name,
                decision="allowed",
                reason="removal finished",
                operation_id=op.id,
                snapshot=snapshot(domain, target.site.name),
                scope=target.site.tenant_id,
            )
        return error


def remove_for_site(services: Services, site: SiteRow, actor: str) -> bool:
    """A site is destroyed: every live domain of it through REMOVING to REMOVED, each undone
    like a domain removal (route, certificate, tunnel rule) and audited; True if it had any."""
    with services.store.unit_of_work() as uow:
        rows = list(domains(uow).for_site(site.id))
        for domain in rows:
            if domain.status in (DomainStatus.VALIDATING, DomainStatus.ROUTING):
                _move(uow, domain, DomainStatus.FAILED, actor)
            if domain.status != DomainStatus.REMOVING:
                _move(uow, domain, DomainStatus.REMOVING, actor)
        plans = [removal_plan(services, uow, DomainTarget(d, site)) for d in rows]
    registry = runtime.registry()
    for domain, steps in zip(rows, plans, strict=True):
        for name in steps:
            undo = registry.step(name).undo
            if undo is not None:
                undo(services, DomainTarget(domain, site), {})
    with services.store.unit_of_work() as uow:
        for domain in rows:
            row = domains(uow).get(domain.id)
            if row is None or row.status == DomainStatus.REMOVED:
                continue
            _move(uow, row, DomainStatus.REMOVED, actor)
            uow.audit.record(
                actor=actor,
                action="domain.removed",
                target_kind=KIND,
                target_name=row.name,
                decision="allowed",
                reason=f"site {site.name} destroyed",
                snapshot=snapshot(row, site.name),
                scope=site.tenant_id,
            )
    return bool(rows)


def _move(uow: UnitOfWork, domain: DomainRow, status: DomainStatus, actor: str) -> None:
    transition(uow, LIFECYCLE, domain, status, reason="site destroyed", actor=actor)
