"""What the reconciler observes of custom domains: the tunnel's ingress file, which must be
the one rendered from the database (the edge routes are observed with their sites)."""

from __future__ import annotations

import structlog

from hostplane.kernel.drift import Finding, FindingKind, Observation, ProviderCalls, ask
from hostplane.kinds.domain.model import KIND
from hostplane.kinds.domain.steps import tunnel_hostnames
from hostplane.services import Services

log = structlog.get_logger(__name__)

REGENERATE_TUNNEL = "regenerate-tunnel"


class DomainObserver:
    def observe(self, ctx: Services, calls: ProviderCalls) -> Observation:
        observation = Observation()
        tunnel = ctx.tunnel
        if tunnel is None:
            return observation
        in_sync: list[bool] = []
        ask(
            calls,
            observation,
            "tunnel",
            lambda: in_sync.append(tunnel.in_sync(tunnel_hostnames(ctx))),
        )
        if in_sync == [False]:
            observation.findings.append(
                Finding(
                    FindingKind.DRIFTED,
                    "tunnel-config",
                    None,
                    "the cloudflared ingress file differs from the one rendered from the database",
                    REGENERATE_TUNNEL,
                    handler=KIND,
                )
            )
        return observation

    def act(self, ctx: Services, action: str, targets: list[str]) -> str:
        assert action == REGENERATE_TUNNEL, action
        if ctx.tunnel is None:
            return "unchanged"
        return ctx.tunnel.apply(tunnel_hostnames(ctx)).value

    def repair(self, ctx: Services, run_id: str, target: str, steps: list[str]) -> str:
        return "skipped: nothing of a domain is repaired step by step"

    def prune(self, ctx: Services, finding: Finding) -> str:
        return "skipped: domains leave nothing to prune"


def on_start(services: Services) -> None:
    """Generated configs are current from the start: the tunnel's ingress file too."""
    if services.tunnel is None:
        return
    try:
        services.tunnel.apply(tunnel_hostnames(services))
    except Exception as exc:  # the worker serves on; the reconciler tries again
        log.error("tunnel.regenerate_failed", error=str(exc))
