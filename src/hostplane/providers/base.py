"""What every provider shares: the outcome of a mutation and the error kinds.

Every mutation is an ``ensure_*`` or ``remove_*`` that returns an Outcome, so
running it twice reports UNCHANGED (or ABSENT) the second time.
"""

from __future__ import annotations

import enum

from hostplane.domain.errors import PermanentError, ProviderError, TemporaryError

__all__ = ["Outcome", "PermanentError", "ProviderError", "TemporaryError"]


class Outcome(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    ABSENT = "absent"

    @property
    def changed(self) -> bool:
        return self in (Outcome.CREATED, Outcome.UPDATED, Outcome.DELETED)
