"""What the reconciler observes of sites, and what it does about the differences.

Each provider lists what it manages in one batched call (the edge config, a listing per Docker
object kind, one query for databases and users, one directory scan), never one per site; the
pure diff (drift.py) classifies every difference.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from hostplane.kernel.drift import Finding, Observation, ProviderCalls, ask
from hostplane.kinds.site import repair
from hostplane.kinds.site.drift import (
    CLOSE_INSTALLER,
    MAINTENANCE,
    REGENERATE_EDGE,
    RESUME,
    DesiredSite,
    Expectations,
    Observed,
    diff,
)
from hostplane.kinds.site.edge import draft_state, regenerate_edge, state_of
from hostplane.kinds.site.model import KIND, SiteStatus
from hostplane.kinds.site.repo import sites
from hostplane.providers.docker.runtime import DockerRuntime
from hostplane.providers.edge import EdgeState
from hostplane.providers.local.runtime import LocalRuntime
from hostplane.providers.runtime import RuntimeKind, runtime_kind, site_type
from hostplane.services import Services


@dataclass(frozen=True, slots=True)
class Desired:
    """What the database says, read in one unit of work: the live sites, the sites whose
    data was kept, and the edge's state."""

    live: list[DesiredSite]
    kept: list[str]
    edge: EdgeState


def desired(services: Services) -> Desired:
    """One read of the site rows serves both the sites and the edge's routes."""
    with services.store.unit_of_work() as uow:
        busy = {op.target_name for op in uow.operations.unfinished() if op.target_kind == KIND}
        rows = sites(uow).live_or_routed()
        live_rows = [s for s in rows if s.status != SiteStatus.DESTROYED]
        live = [
            DesiredSite(
                name=s.name,
                type=site_type(s.type),
                runtime=runtime_kind(s.runtime),
                status=s.status,
                busy=s.name in busy,
                installed=s.installed_at is not None,
                maintenance=s.maintenance is not None,
                suspended=bool(s.tenant_suspended),
            )
            for s in live_rows
        ]
        kept = sites(uow).kept_data(live={s.name for s in live_rows})
        draft = draft_state(uow, services, routed=[s for s in rows if s.routed])
    return Desired(live, kept, state_of(services, draft))


def observe_providers(
    services: Services,
    calls: ProviderCalls,
    observation: Observation,
    in_use: set[RuntimeKind],
    edge_state: EdgeState,
) -> Observed:
    """Ask every provider once. A runtime no live site uses may be absent from this host (no
    Docker engine on a machine that only runs local sites): that is not worth a warning."""
    values: dict[str, Any] = {}

    def edge() -> None:
        values["edge_in_sync"], values["edge_routes"] = services.edge.in_sync(edge_state)

    def databases() -> None:
        found = services.databases.inventory()  # one connection, two queries
        values["databases"], values["database_users"], values["populated"] = found

    ask(calls, observation, "edge", edge)
    ask(calls, observation, "site-databases", databases, 2)
    local = services.runtimes.get(RuntimeKind.LOCAL)
    if isinstance(local, LocalRuntime):

        def local_inventory() -> None:
            values["webroots"], values["pools"] = local.inventory()

        quiet = RuntimeKind.LOCAL not in in_use
        ask(calls, observation, "local", local_inventory, quiet=quiet)
    docker = services.runtimes.get(RuntimeKind.DOCKER)
    if isinstance(docker, DockerRuntime):

        def docker_inventory() -> None:
            inv = docker.inventory()
            values["containers"] = inv.containers
            values["volumes"], values["networks"] = inv.volumes, inv.networks

        quiet = RuntimeKind.DOCKER not in in_use
        ask(calls, observation, "docker", docker_inventory, 3, quiet=quiet)
    return Observed(unreachable=dict(observation.unreachable), **values)


class SiteObserver:
    def observe(self, ctx: Services, calls: ProviderCalls) -> Observation:
        want = desired(ctx)
        observation = Observation()
        in_use = {s.runtime for s in want.live}
        observed = observe_providers(ctx, calls, observation, in_use, want.edge)
        settings = ctx.settings
        expect = Expectations(settings.php_image, settings.nginx_image, frozenset(want.kept))
        observation.findings = [
            dataclasses.replace(f, handler=KIND) for f in diff(want.live, observed, expect)
        ]
        return observation

    def act(self, ctx: Services, action: str, targets: list[str]) -> str:
        if action == MAINTENANCE:
            repair.enter_maintenance(ctx, targets)
        elif action == RESUME:
            repair.leave_maintenance(ctx, targets)
        elif action == CLOSE_INSTALLER:
            repair.close_installers(ctx, targets)
        else:
            assert action == REGENERATE_EDGE, action
        return regenerate_edge(ctx).value

    def repair(self, ctx: Services, run_id: str, target: str, steps: list[str]) -> str:
        return repair.repair_site(ctx, run_id, target, steps)

    def prune(self, ctx: Services, finding: Finding) -> str:
        return repair.prune(ctx, finding.resource, finding.target)
