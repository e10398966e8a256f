"""Observe: every kind lists what it manages in a few batched provider calls and classifies
the differences; this module only loops over the kinds."""

from __future__ import annotations

from dataclasses import dataclass

from hostplane.kernel import runtime
from hostplane.kernel.drift import Finding, ProviderCalls


@dataclass(frozen=True, slots=True)
class Plan:
    findings: list[Finding]
    unreachable: dict[str, str]
    calls: dict[str, int]


def plan(ctx: object) -> Plan:
    """What a reconcile would find now, over every kind; changes nothing."""
    calls = ProviderCalls()
    findings: list[Finding] = []
    unreachable: dict[str, str] = {}
    for kind in runtime.registry():
        if kind.observer is None:
            continue
        observation = kind.observer.observe(ctx, calls)
        findings += observation.findings
        unreachable.update(observation.unreachable)
    findings.sort(key=lambda f: (f.target or "", f.resource, f.kind.value))
    return Plan(findings, unreachable, calls.counts)
