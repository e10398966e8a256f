"""Observe: each provider lists what it manages in a few batched calls (one edge config read,
one listing per Docker object kind, one query for databases and users, one directory scan),
never one call per site; then the pure diff classifies every difference."""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from hostplane.domain.errors import HostplaneError
from hostplane.domain.reconcile import DesiredSite, Expectations, Finding, Observed, diff
from hostplane.domain.sites import RuntimeKind, SiteType
from hostplane.providers.docker.runtime import DockerRuntime
from hostplane.providers.local.runtime import LocalRuntime
from hostplane.workflows.domain_steps import tunnel_hostnames
from hostplane.workflows.edge import desired_state
from hostplane.workflows.services import Services

log = structlog.get_logger(__name__)


@dataclass
class ProviderCalls:
    """How many calls each observation made, for the benchmark and the logs."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, provider: str, n: int = 1) -> None:
        self.counts[provider] = self.counts.get(provider, 0) + n

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def desired_sites(services: Services) -> tuple[list[DesiredSite], list[str]]:
    with services.store.unit_of_work() as uow:
        busy = {op.target_name for op in uow.operations.unfinished() if op.target_kind == "site"}
        sites = [
            DesiredSite(
                name=s.name,
                type=SiteType(s.type),
                runtime=RuntimeKind(s.runtime),
                status=s.status,
                busy=s.name in busy,
            )
            for s in uow.sites.live_fields()
        ]
        return sites, uow.sites.kept_data()


def observe(
    services: Services,
    calls: ProviderCalls | None = None,
    *,
    runtimes_in_use: frozenset[RuntimeKind] = frozenset(RuntimeKind),
) -> Observed:
    """Ask every provider. A runtime no live site uses may be absent from this host (no
    Docker engine on a machine that only runs local sites): that is not worth a warning."""
    calls = calls if calls is not None else ProviderCalls()
    unreachable: dict[str, str] = {}
    values: dict[str, object] = {}

    def attempt(provider: str, fn: object, n: int = 1) -> None:
        assert callable(fn)
        calls.add(provider, n)
        try:
            fn()
        except HostplaneError as exc:
            if provider in {k.value for k in RuntimeKind} - {k.value for k in runtimes_in_use}:
                log.debug("reconcile.runtime_absent", provider=provider, error=str(exc))
                return
            unreachable[provider] = str(exc)
            log.warning("reconcile.observe_failed", provider=provider, error=str(exc))

    def edge() -> None:
        in_sync, routes = services.edge.in_sync(desired_state(services))
        values["edge_in_sync"], values["edge_routes"] = in_sync, routes

    attempt("edge", edge)

    if services.tunnel is not None:
        tunnel = services.tunnel

        def tunnel_file() -> None:
            values["tunnel_in_sync"] = tunnel.in_sync(tunnel_hostnames(services))

        attempt("tunnel", tunnel_file)

    def databases() -> None:
        dbs, users = services.databases.observe()
        values["databases"], values["database_users"] = dbs, users

    attempt("site-databases", databases)

    local = services.runtimes.get(RuntimeKind.LOCAL)
    if isinstance(local, LocalRuntime):

        def local_inventory() -> None:
            values["webroots"], values["pools"] = local.inventory()

        attempt("local", local_inventory)

    docker = services.runtimes.get(RuntimeKind.DOCKER)
    if isinstance(docker, DockerRuntime):

        def docker_inventory() -> None:
            inv = docker.inventory()
            values["containers"] = inv.containers
            values["volumes"], values["networks"] = inv.volumes, inv.networks

        attempt("docker", docker_inventory, 3)

    return Observed(unreachable=unreachable, **values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Plan:
    findings: list[Finding]
    unreachable: dict[str, str]
    calls: dict[str, int]


def plan(services: Services) -> Plan:
    """What a reconcile would find now; changes nothing."""
    sites, kept = desired_sites(services)
    calls = ProviderCalls()
    observed = observe(services, calls, runtimes_in_use=frozenset(s.runtime for s in sites))
    settings = services.settings
    expect = Expectations(settings.php_image, settings.nginx_image, frozenset(kept))
    findings = diff(sites, observed, expect)
    return Plan(findings, dict(observed.unreachable), calls.counts)
