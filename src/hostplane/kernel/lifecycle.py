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

    @property
    def final(self) -> frozenset[str]:
        return frozenset(status for status, moves in self.table.items() if not moves)
