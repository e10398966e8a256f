"""Drift as data: what a reconcile finds, and what a kind offers the reconciler. Pure, but
for `ask`, which runs a kind's listing and records whether the provider answered.

Missing: the database says it should exist and it does not. Drifted: it exists but is wrong.
Orphaned: it carries this plane's marks but nothing live in the database is behind it. Lost:
it held data that is gone; recreating it empty would hide the loss (and open an installed
application's installer), so it is reported and the operator decides. Each
kind observes its own resources (a few batched provider calls, never one per resource),
classifies the differences and repairs them; the reconciler loops over the kinds.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from hostplane.errors import HostplaneError

log = structlog.get_logger(__name__)


class FindingKind(enum.StrEnum):
    MISSING = "missing"
    DRIFTED = "drifted"
    ORPHANED = "orphaned"
    LOST = "lost"  # what the database says existed held data that is gone: never recreated empty


REPAIR = "repair"  # re-run the steps that own the resource (idempotent), under its slot
PRUNE = "prune"  # remove, only with --prune or HOSTPLANE_RECONCILE_PRUNE
REPORT = "report"  # nothing is done automatically: the operator decides


@dataclass(frozen=True, slots=True)
class Finding:
    kind: FindingKind
    resource: str  # "<type>:<name>", e.g. container:php_blog
    target: str | None  # the name of the resource it belongs to (a site, say)
    detail: str
    action: str  # REPAIR, PRUNE, REPORT or a config action of the kind (regenerate-edge)
    step: str | None = None  # for REPAIR: the step whose apply recreates it
    handler: str = ""  # the kind that found it and acts on it

    def as_dict(self) -> dict[str, str | None]:
        return {
            "kind": self.kind.value,
            "resource": self.resource,
            "site": self.target,
            "detail": self.detail,
            "action": self.action,
            "handler": self.handler,
        }


@dataclass
class ProviderCalls:
    """How many calls each observation made, for the benchmark and the logs."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, provider: str, n: int = 1) -> None:
        self.counts[provider] = self.counts.get(provider, 0) + n

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class Observation:
    findings: list[Finding] = field(default_factory=list)
    unreachable: dict[str, str] = field(default_factory=dict)  # provider → why


def ask(
    calls: ProviderCalls,
    observation: Observation,
    provider: str,
    listing: Callable[[], None],
    n: int = 1,
    *,
    quiet: bool = False,
) -> None:
    """Run one batched listing; a provider that cannot be asked is recorded as unreachable
    (nothing is concluded about its resources), or only logged when `quiet` (a provider this
    host need not have: a Docker engine where no site runs on Docker)."""
    calls.add(provider, n)
    try:
        listing()
    except HostplaneError as exc:
        if quiet:
            log.debug("reconcile.provider_absent", provider=provider, error=str(exc))
            return
        observation.unreachable[provider] = str(exc)
        log.warning("reconcile.observe_failed", provider=provider, error=str(exc))


class Observer(Protocol):
    """What a kind offers the reconciler."""

    def observe(self, ctx: Any, calls: ProviderCalls) -> Observation:
        """Desired against observed, every difference a Finding; changes nothing."""
        ...

    def act(self, ctx: Any, action: str, targets: list[str]) -> str:
        """Run one of the kind's own actions, once for all its findings (regenerate a generated
        file whole; put these sites into maintenance): its outcome."""
        ...

    def repair(self, ctx: Any, run_id: str, target: str, steps: list[str]) -> str:
        """Re-run `steps` of `target` under its operation slot: repaired, skipped or failed."""
        ...

    def prune(self, ctx: Any, finding: Finding) -> str:
        """Remove one orphan after checking again that nothing live owns it."""
        ...


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    tally = {kind.value: 0 for kind in FindingKind}
    for f in findings:
        tally[f.kind.value] += 1
    return tally
