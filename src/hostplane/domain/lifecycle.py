"""Lifecycles as pure transition tables, and the one check every status change passes.

The store's transition function calls `check_transition` before it writes a
status and its event; nothing else decides whether a change is allowed.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from hostplane.domain.errors import IllegalTransitionError


class SiteStatus(enum.StrEnum):
    CREATED = "CREATED"
    PROVISIONING = "PROVISIONING"
    ACTIVE = "ACTIVE"
    DESTROYING = "DESTROYING"
    DESTROYED = "DESTROYED"
    FAILED = "FAILED"


class DomainStatus(enum.StrEnum):
    PENDING = "PENDING"
    VALIDATING = "VALIDATING"
    ROUTING = "ROUTING"
    ACTIVE = "ACTIVE"
    REMOVING = "REMOVING"
    REMOVED = "REMOVED"
    FAILED = "FAILED"


class NodeStatus(enum.StrEnum):
    PROVISIONING = "provisioning"
    INITIALIZING = "initializing"
    READY = "ready"
    ACTIVE = "active"
    IDLE = "idle"
    DRAINING = "draining"
    DECOMMISSIONED = "decommissioned"
    UNHEALTHY = "unhealthy"


class OperationStatus(enum.StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPENSATING = "COMPENSATING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


S, D, N = SiteStatus, DomainStatus, NodeStatus

SITE_TRANSITIONS: Mapping[SiteStatus, frozenset[SiteStatus]] = {
    S.CREATED: frozenset({S.PROVISIONING}),
    S.PROVISIONING: frozenset({S.ACTIVE, S.FAILED}),
    S.ACTIVE: frozenset({S.DESTROYING}),
    S.DESTROYING: frozenset({S.DESTROYED, S.FAILED}),
    S.FAILED: frozenset({S.PROVISIONING, S.DESTROYING}),
    S.DESTROYED: frozenset(),
}

_DOMAIN_LIVE = (D.PENDING, D.VALIDATING, D.ROUTING, D.ACTIVE, D.REMOVING)
DOMAIN_TRANSITIONS: Mapping[DomainStatus, frozenset[DomainStatus]] = {
    D.PENDING: frozenset({D.VALIDATING, D.REMOVING, D.FAILED}),
    D.VALIDATING: frozenset({D.ROUTING, D.PENDING, D.FAILED}),
    D.ROUTING: frozenset({D.ACTIVE, D.FAILED}),
    D.ACTIVE: frozenset({D.REMOVING, D.FAILED}),
    D.REMOVING: frozenset({D.REMOVED, D.FAILED}),
    D.FAILED: frozenset({D.PENDING, D.REMOVING}),
    D.REMOVED: frozenset(),
}

_NODE_LIVE = (N.PROVISIONING, N.INITIALIZING, N.READY, N.ACTIVE, N.IDLE, N.DRAINING)
NODE_TRANSITIONS: Mapping[NodeStatus, frozenset[NodeStatus]] = {
    N.PROVISIONING: frozenset({N.INITIALIZING, N.UNHEALTHY}),
    N.INITIALIZING: frozenset({N.READY, N.UNHEALTHY}),
    N.READY: frozenset({N.ACTIVE, N.DRAINING, N.UNHEALTHY}),
    N.ACTIVE: frozenset({N.IDLE, N.DRAINING, N.UNHEALTHY}),
    N.IDLE: frozenset({N.ACTIVE, N.DRAINING, N.UNHEALTHY}),
    N.DRAINING: frozenset({N.DECOMMISSIONED, N.UNHEALTHY}),
    N.UNHEALTHY: frozenset(set(_NODE_LIVE) - {N.PROVISIONING}),
    N.DECOMMISSIONED: frozenset(),
}

TABLES: Mapping[str, Mapping[str, frozenset[str]]] = {
    "site": SITE_TRANSITIONS,  # type: ignore[dict-item]
    "domain": DOMAIN_TRANSITIONS,  # type: ignore[dict-item]
    "node": NODE_TRANSITIONS,  # type: ignore[dict-item]
}

SITE_LIVE = frozenset(set(SiteStatus) - {S.DESTROYED})
DOMAIN_LIVE = frozenset(_DOMAIN_LIVE)
NODE_LIVE = frozenset(_NODE_LIVE)


def allowed(kind: str, current: str, target: str) -> bool:
    table = TABLES[kind]
    return target in table.get(current, frozenset())


def check_transition(kind: str, current: str, target: str) -> None:
    """Raise IllegalTransitionError unless `kind` may move from `current` to `target`."""
    if kind not in TABLES:
        raise IllegalTransitionError(f"no lifecycle for {kind!r}")
    table = TABLES[kind]
    if current not in table:
        raise IllegalTransitionError(f"{kind} status {current!r} is unknown")
    if target not in table:
        raise IllegalTransitionError(f"{kind} status {target!r} is unknown")
    if not allowed(kind, current, target):
        permitted = ", ".join(sorted(table[current])) or "none (final)"
        raise IllegalTransitionError(
            f"{kind} cannot go from {current} to {target}; from {current} it may go to: {permitted}"
        )
