"""Lifecycles as pure transition tables. Pure: no I/O.

A kind declares its `Lifecycle` (a name and a table of allowed moves); the one function that
writes a status (kernel.transition) checks it before it writes the status and its event.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from hostplane.errors import IllegalTransitionError


class OperationStatus(enum.StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPENSATING = "COMPENSATING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class ResourceStatus(enum.StrEnum):
    """The lifecycle most resources share (databases, caches, zones and their users or
    records): made, served, removed, or FAILED on the way."""

    PENDING = "PENDING"
    PROVISIONING = "PROVISIONING"
    ACTIVE = "ACTIVE"
    DELETING = "DELETING"
    DELETED = "DELETED"
    FAILED = "FAILED"


_R = ResourceStatus
RESOURCE_TRANSITIONS: Mapping[str, frozenset[str]] = {
    _R.PENDING: frozenset({_R.PROVISIONING}),
    _R.PROVISIONING: frozenset({_R.ACTIVE, _R.FAILED}),
    _R.ACTIVE: frozenset({_R.DELETING}),
    _R.DELETING: frozenset({_R.DELETED, _R.FAILED}),
    _R.FAILED: frozenset({_R.PROVISIONING, _R.DELETING}),
    _R.DELETED: frozenset(),
}


@dataclass(frozen=True)
class Lifecycle:
    """A kind's statuses and the moves allowed between them (pure data)."""

    kind: str
    table: Mapping[str, frozenset[str]]

    def allowed(self, current: str, target: str) -> bool:
        return target in self.table.get(current, frozenset())

    def check(self, current: str, target: str) -> None:
        """Raise IllegalTransitionError unless the kind may move from `current` to `target`."""
        if current not in self.table:
            raise IllegalTransitionError(f"{self.kind} status {current!r} is unknown")
        if target not in self.table:
            raise IllegalTransitionError(f"{self.kind} status {target!r} is unknown")
        if not self.allowed(current, target):
            permitted = ", ".join(sorted(self.table[current])) or "none (final)"
            raise IllegalTransitionError(
                f"{self.kind} cannot go from {current} to {target}; "
                f"from {current} it may go to: {permitted}"
            )

    def path(
        self, current: str, target: str, avoiding: frozenset[str] = frozenset()
    ) -> tuple[str, ...]:
        """The statuses a resource passes through from `current` to `target` (not `current`
        itself), in the fewest moves the table allows that pass through none of `avoiding`;
        IllegalTransitionError when there is none. E.g. PENDING → DELETED avoiding ACTIVE
        (what was never confirmed never says it was): PROVISIONING, FAILED, DELETING, DELETED."""
        paths: dict[str, tuple[str, ...]] = {current: ()}
        frontier = [current]
        while frontier and target not in paths:
            step = []
            for status in frontier:
                for following in sorted(self.table.get(status, frozenset())):
                    if following not in paths and following not in avoiding:
                        paths[following] = (*paths[status], following)
                        step.append(following)
            frontier = step
        if target not in paths:
            raise IllegalTransitionError(f"{self.kind} cannot reach {target} from {current}")
        return paths[target]

    @property
    def final(self) -> frozenset[str]:
        return frozenset(status for status, moves in self.table.items() if not moves)
