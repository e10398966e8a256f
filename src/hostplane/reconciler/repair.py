"""Repair: safe drifts fixed by re-running the idempotent step that owns the resource (under
the site's operation slot, so no site is touched by two operations at once); generated
configs regenerated whole; orphans removed only when pruning, each removal audited."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from hostplane import naming
from hostplane.domain.errors import ConflictError, PermanentError
from hostplane.domain.lifecycle import OperationStatus, SiteStatus
from hostplane.domain.sites import RuntimeKind, Step, provision_plan
from hostplane.providers.base import Outcome
from hostplane.providers.docker.runtime import DockerRuntime
from hostplane.providers.local.runtime import LocalRuntime
from hostplane.store.tables import OperationRow, SiteRow
from hostplane.store.types import utcnow
from hostplane.workflows.domain_steps import tunnel_hostnames
from hostplane.workflows.edge import regenerate_edge
from hostplane.workflows.recording import describe, record_step
from hostplane.workflows.requests import site_target
from hostplane.workflows.services import Services
from hostplane.workflows.steps import ACTIONS

log = structlog.get_logger(__name__)

ACTOR = "reconciler"


def regenerate_edge_config(services: Services) -> Outcome:
    return regenerate_edge(services)


def regenerate_tunnel_config(services: Services) -> Outcome:
    if services.tunnel is None:
        return Outcome.UNCHANGED
    return services.tunnel.apply(tunnel_hostnames(services))


def _repair_operation(services: Services, run_id: str, site_name: str, steps: list[str]) -> str:
    """The site's operation slot for this repair: taken now, or resumed after a crash.
    Returns the operation id; ConflictError when another operation holds the site."""
    with services.store.unit_of_work() as uow:
        site = uow.sites.get_live(site_name)
        if site is None or site.status != SiteStatus.ACTIVE:
            raise ConflictError(f"site {site_name} is no longer ACTIVE")
        active = uow.operations.active_for(site_target(site_name))
        if active is not None:
            if active.kind == "repair" and (active.options or {}).get("run") == run_id:
                return active.id
            raise ConflictError(
                f"site {site_name} has operation {active.id} ({active.kind}) in progress"
            )
        op = uow.operations.add(
            OperationRow(
                kind="repair",
                target_kind="site",
                target_name=site.name,
                target_id=site.id,
                status=OperationStatus.RUNNING,
                started_at=utcnow(),
                active_target=site_target(site.name),
                request_hash="",
                options={"run": run_id, "steps": steps},
                actor=ACTOR,
            )
        )
        uow.flush()
        return op.id


def repair_site(services: Services, run_id: str, site_name: str, steps: list[str]) -> str:
    """Re-run the apply of each step (in provision order), then confirm the site answers."""
    try:
        op_id = _repair_operation(services, run_id, site_name, steps)
    except ConflictError as exc:
        log.info("reconcile.repair_skipped", site=site_name, reason=str(exc))
        return f"skipped: {exc}"
    with services.store.unit_of_work() as uow:
        op = uow.operations.get(op_id)
        assert op is not None
        site_id = op.target_id
        site = uow.sites.get(site_id)
        assert site is not None, f"site of operation {op_id} vanished"
    order = provision_plan(services.spec(site))
    wanted = {Step(s) for s in steps}
    plan = [s for s in order if s in wanted or s is Step.CONFIRM]
    error = None
    try:
        for step in plan:
            record_step(
                services,
                op_id,
                step.value,
                "apply",
                ACTIONS[step].intent,
                _apply(services, site, step),
                site=site.name,
            )
    except Exception as exc:
        error = describe(exc)
    with services.store.unit_of_work() as uow:
        op = uow.operations.get(op_id)
        assert op is not None
        if op.finished_at is None:
            status = OperationStatus.SUCCEEDED if error is None else OperationStatus.FAILED
            uow.operations.finish(op, status, error)
        row = uow.sites.get(site_id)
        if row is not None and error is not None:
            row.last_error = f"repair failed: {error}"
    return "repaired" if error is None else f"failed: {error}"


def _apply(services: Services, site: SiteRow, step: Step) -> Callable[[], Outcome]:
    action = ACTIONS[step].apply
    assert action is not None
    return lambda: action(services, site, {})


def prune(services: Services, resource: str, site: str | None) -> str:
    """Remove one orphan after checking again that no live site (nor kept data) owns it."""
    kind, _, name = resource.partition(":")
    with services.store.unit_of_work() as uow:
        live = {s.name for s in uow.sites.live_fields()} | set(uow.sites.kept_data())
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
