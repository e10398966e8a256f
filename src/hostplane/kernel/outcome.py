"""The outcome of a mutation: every `ensure_*` / `remove_*` returns one, so running it twice
reports UNCHANGED (or ABSENT) the second time."""

from __future__ import annotations

import enum


class Outcome(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    ABSENT = "absent"

    @property
    def changed(self) -> bool:
        return self in (Outcome.CREATED, Outcome.UPDATED, Outcome.DELETED)
