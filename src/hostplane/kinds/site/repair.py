"""Repair: safe drifts fixed by re-running the idempotent steps that own the resource, under
the site's operation slot (no site is touched by two operations at once); orphans removed
only when pruning (the reconciler audits each removal)."""

from __future__ import annotations

import structlog

from hostplane import naming
from hostplane.errors import ConflictError, PermanentError
from hostplane.kernel.operations import take_repair_slot
from hostplane.kernel.steps import REPAIRED, record_apply, run_repair
from hostplane.kernel.store.types import utcnow
from hostplane.kinds.site.model import KIND, SiteOp, SiteStatus, Step, provision_plan, site_spec
from hostplane.kinds.site.repo import sites
from hostplane.kinds.site.steps import BY_NAME
from hostplane.kinds.site.table import SiteRow
from hostplane.providers.docker.runtime import DockerRuntime
from hostplane.providers.local.runtime import LocalRuntime
from hostplane.providers.runtime import RuntimeKind
from hostplane.services import Services

log = structlog.get_logger(__name__)

ACTOR = "reconciler"


def _repair_operation(services: Services, run_id: str, name: str, steps: list[str]) -> str:
    """The site's operation slot for this repair: taken now, or resumed after a crash.
    Returns the operation id; ConflictError when another operation holds the site."""
    with services.store.unit_of_work() as uow:
        site = sites(uow).get_live(name)
        if site is None or site.status != SiteStatus.ACTIVE:
            raise ConflictError(f"site {name} is no longer ACTIVE")
        return take_repair_slot(
            uow,
            kind=SiteOp.REPAIR,
            target_kind=KIND,
            target_name=site.name,
            target_id=site.id,
            run_id=run_id,
            steps=steps,
            actor=ACTOR,
            scope=site.tenant_id,
        )


def repair_site(services: Services, run_id: str, name: str, steps: list[str]) -> str:
    """Re-run the apply of each step (in provision order), then confirm the site answers."""
    try:
        op_id = _repair_operation(services, run_id, name, steps)
    except ConflictError as exc:
        log.info("reconcile.repair_skipped", site=name, reason=str(exc))
        return f"skipped: {exc}"
    with services.store.unit_of_work() as uow:
        op = uow.operations.get(op_id)
        assert op is not None
        site = sites(uow).get(op.target_id)
        assert site is not None, f"site of operation {op_id} vanished"
    wanted = {Step(s) for s in steps}
    plan = [
        s
        for s in provision_plan(site_spec(site, services.settings))
        if s in wanted or s is Step.CONFIRM
    ]

    def work() -> None:
        for step in plan:
            _run(services, op_id, site, step)

    result = run_repair(services.store, op_id, work)
    if result != REPAIRED:
        with services.store.unit_of_work() as uow:
            row = sites(uow).get(site.id)
            if row is not None:
                row.last_error = f"repair {result}"
    return result


def _run(services: Services, op_id: str, site: SiteRow, step: Step) -> None:
    record_apply(services.store, op_id, BY_NAME[step], services, site, site=site.name)


def enter_maintenance(services: Services, names: list[str]) -> None:
    """These installed WordPress sites lost their data: the edge answers them with a
    maintenance page (never their installer) until they are restored or reinstalled."""
    reason = "the database of the installed WordPress is gone or empty"
    with services.store.unit_of_work() as uow:
        for name in names:
            site = sites(uow).get_live(name)
            if site is None or site.maintenance is not None:
                continue
            site.maintenance = reason
            uow.audit.record(
                actor=ACTOR,
                action="site.maintenance",
                target_kind=KIND,
                target_name=name,
                decision="allowed",
                reason=reason,
                snapshot={"site": name, "installed_at": str(site.installed_at)},
                scope=site.tenant_id,
            )
            log.warning("site.lost_data", site=name, reason=reason)


def leave_maintenance(services: Services, names: list[str]) -> None:
    """These sites' data is back (restored by their operator): they are served again."""
    with services.store.unit_of_work() as uow:
        for name in names:
            site = sites(uow).get_live(name)
            if site is not None and site.maintenance is not None:
                site.maintenance = None
                log.info("site.restored", site=name)


def close_installers(services: Services, names: list[str]) -> None:
    """These WordPress sites were installed by their operators: their installer is closed."""
    with services.store.unit_of_work() as uow:
        for name in names:
            site = sites(uow).get_live(name)
            if site is not None and site.installed_at is None:
                site.installed_at = utcnow()


def prune(services: Services, resource: str, site: str | None) -> str:
    """Remove one orphan after checking again that no live site (nor kept data) owns it."""
    kind, _, name = resource.partition(":")
    with services.store.unit_of_work() as uow:
        live = {s.name for s in sites(uow).live_fields()} | set(sites(uow).kept_data())
    owned_dbs = {naming.site_database(s) for s in live} | {
        naming.site_database_user(s) for s in live
    }
    if (site and site in live) or name in owned_dbs:
        return "skipped: a live site owns it now"
    docker = services.runtimes.get(RuntimeKind.DOCKER)
    local = services.runtimes.get(RuntimeKind.LOCAL)
    if kind in ("container", "volume", "network") and isinstance(docker, DockerRuntime):
        outcome = docker.prune(kind, name)
    elif kind == "database":
        outcome = services.databases.remove_database_only(name)
    elif kind == "database-user":
        outcome = services.databases.remove_user(name)
    elif kind in ("webroot", "php-pool") and isinstance(local, LocalRuntime):
        outcome = local.prune(kind, name)
    else:
        raise PermanentError(f"no provider here can remove {resource}")
    return outcome.value
