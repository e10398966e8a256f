"""How a site's operations move it through its lifecycle: the saga hooks the kernel calls.

Each runs inside the kernel's transaction for its step and is idempotent: re-run after a crash
it finds its work done.
"""

from __future__ import annotations

from hostplane.errors import NotFoundError
from hostplane.kernel.kind import Plan
from hostplane.kernel.lifecycle import ResourceStatus
from hostplane.kernel.store.tables import OperationRow
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kernel.transition import transition
from hostplane.kinds.site import secrets as site_secrets
from hostplane.kinds.site import tenant_database
from hostplane.kinds.site.model import (
    LIFECYCLE,
    PROVISIONING_OPS,
    SiteOp,
    SiteStatus,
    destroy_plan,
    provision_plan,
    reinstall_plan,
    site_spec,
)
from hostplane.kinds.site.repo import sites
from hostplane.kinds.site.table import SiteRow
from hostplane.services import Services


def snapshot(site: SiteRow) -> dict[str, object]:
    return {
        "id": site.id,
        "name": site.name,
        "type": site.type,
        "runtime": site.runtime,
        "status": site.status,
        "routed": site.routed,
        "tenant": site.tenant_name,
        "created_at": site.created_at.isoformat(),
    }


def _follow_database(
    uow: UnitOfWork, op: OperationRow, site: SiteRow, target: str, error: str | None
) -> None:
    """The site's database, one of its tenant's, as the site's operation left it: made
    (ACTIVE), removed with the site (DELETED: no longer counted, even when its data is kept
    on the server for a later site of that name), or FAILED with the site."""
    if target == SiteStatus.ACTIVE:
        status, reason = ResourceStatus.ACTIVE, f"site {site.name} is ACTIVE"
    elif target == SiteStatus.DESTROYED:
        kept = " (its data kept on the server)" if (op.options or {}).get("keep_data") else ""
        status, reason = ResourceStatus.DELETED, f"site {site.name} was destroyed{kept}"
    else:
        status, reason = ResourceStatus.FAILED, f"site {site.name} failed: {error}"
    tenant_database.follow(uow, site, status, reason, op.actor, op.id)


class SiteSaga:
    def load(self, uow: UnitOfWork, op: OperationRow) -> SiteRow:
        site = sites(uow).get(op.target_id)
        if site is None:
            raise NotFoundError(f"site {op.target_id} is gone from the state database")
        return site

    def log_context(self, site: SiteRow) -> dict[str, str]:
        return {"site": site.name}

    def begin(self, ctx: Services, uow: UnitOfWork, op: OperationRow, site: SiteRow) -> Plan:
        """Move the site into its working state; the plan for its type and runtime."""
        if op.kind == SiteOp.REINSTALL:
            # It stays ACTIVE; the edge leaves maintenance at the edge step. A failure is not
            # undone (that would unroute the site): it goes back into maintenance.
            site.maintenance = None
            return Plan(reinstall_plan(), compensate=False, failure="reinstall stopped")
        provisioning = op.kind in PROVISIONING_OPS
        target = SiteStatus.PROVISIONING if provisioning else SiteStatus.DESTROYING
        if site.status != target:
            transition(
                uow,
                LIFECYCLE,
                site,
                target,
                reason=f"{op.kind} started",
                actor=op.actor,
                operation_id=op.id,
            )
        spec = site_spec(site, ctx.settings)
        if provisioning:
            tenant_database.follow(
                uow, site, ResourceStatus.PROVISIONING, f"site {op.kind} started", op.actor, op.id
            )
            return Plan(tuple(provision_plan(spec)))
        return Plan(tuple(destroy_plan(spec)), undo=True, failure="destroy stopped at a step")

    def failed(
        self, ctx: Services, uow: UnitOfWork, op: OperationRow, site: SiteRow, error: str
    ) -> None:
        """Nothing of the site changes while its steps are undone: finish says FAILED."""

    def finish(
        self, ctx: Services, uow: UnitOfWork, op: OperationRow, site: SiteRow, error: str | None
    ) -> str | None:
        """ACTIVE or DESTROYED when every step confirmed, else FAILED with the error."""
        if op.kind == SiteOp.REINSTALL:
            site.last_error = error
            if error is not None:
                site.maintenance = f"the reinstall failed: {error}"
            return error
        provisioning = op.kind in PROVISIONING_OPS
        if error is None:
            target = SiteStatus.ACTIVE if provisioning else SiteStatus.DESTROYED
            reason = "every step confirmed" if provisioning else "every resource removed"
        else:
            target, reason = SiteStatus.FAILED, error
        site.last_error = error
        if site.status != target:
            transition(
                uow, LIFECYCLE, site, target, reason=reason, actor=op.actor, operation_id=op.id
            )
        _follow_database(uow, op, site, target, error)
        if target == SiteStatus.DESTROYED:
            if not (op.options or {}).get("keep_data"):  # an install that never ran
                uow.secrets.delete(site_secrets.OWNER, site.id, site_secrets.WP_ADMIN_PASSWORD)
            uow.audit.record(
                actor=op.actor,
                action="site.destroyed",
                target_kind="site",
                target_name=site.name,
                decision="allowed",
                reason="destroy finished",
                operation_id=op.id,
                snapshot=snapshot(site),
                scope=site.tenant_id,
            )
        return error
