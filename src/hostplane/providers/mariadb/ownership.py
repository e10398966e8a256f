"""Whose a database or an account on the site database server is: pure decisions, no I/O.

A database carries its plane's mark in its COMMENT (`hostplane:<plane id>`), set when it is
created. An account cannot carry one, so the ledger (ledger.py) holds a claim for it: one row
per (kind, name, host), unique, so two planes never both hold a name. A database is claimed too,
before it is created, which reserves the name while it does not exist yet.

The rules:
- an existing database is held by the plane its mark names; unmarked, by nobody (a claim does not
  make an unmarked database anyone's, since a plane marks what it creates in the same statement),
  unless another plane has claimed the name;
- an account is held by the plane that claims it; unclaimed, by nobody;
- an absent resource is held by the plane that claims it, if any.
A plane keeps what it holds, creates what is absent and free, and may adopt what nobody holds
only when its store predates plane ids (`adopt_unmarked`) and the name has Hostplane's prefix.
Everything else is foreign: refused, never changed, never removed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

MARK_PREFIX = "hostplane:"
ADOPTABLE_PREFIX = "wp_"
NOBODY = ""  # the holder of an unmarked resource


class Kind(enum.StrEnum):
    DATABASE = "database"
    USER = "user"


class Verdict(enum.StrEnum):
    CREATE = "create"  # absent, and free or reserved by this plane
    KEEP = "keep"  # exists and is this plane's
    ADOPT = "adopt"  # exists with no mark; this plane takes it and marks it
    FOREIGN = "foreign"  # another plane's, or nobody's: left exactly as it is


def mark(plane: str) -> str:
    return f"{MARK_PREFIX}{plane}"


def marked_by(comment: str | None) -> str | None:
    """The plane a database's comment names; None when it carries no Hostplane mark."""
    if comment and comment.startswith(MARK_PREFIX):
        return comment[len(MARK_PREFIX) :] or None
    return None


@dataclass(frozen=True, slots=True)
class Found:
    """What one query found about a database or an account."""

    kind: Kind
    name: str
    host: str  # the account's host; "" for a database
    exists: bool
    claim: str | None  # the plane that claims it in the ledger
    mark: str | None = None  # a database: the plane its comment names

    @property
    def label(self) -> str:
        return f"database {self.name}" if self.kind is Kind.DATABASE else f"user {self.name}"


@dataclass(frozen=True, slots=True)
class Judgement:
    found: Found
    verdict: Verdict
    holder: str | None = None  # FOREIGN: the plane that holds it, or NOBODY

    @property
    def ours(self) -> bool:
        """It exists and this plane may change or remove it."""
        return self.verdict in (Verdict.KEEP, Verdict.ADOPT)


def holder(found: Found, owner: str) -> str | None:
    """The plane that holds the resource, NOBODY for an unmarked one, None when it is free."""
    if found.kind is Kind.DATABASE and found.exists:
        if found.mark is not None:
            return found.mark
        # A plane marks a database in the statement that creates it: an unmarked one was made
        # by someone else, even under this plane's claim.
        return found.claim if found.claim not in (None, owner) else NOBODY
    if found.claim is not None:
        return found.claim
    return NOBODY if found.exists else None


def judge(found: Found, owner: str, adopt_unmarked: bool) -> Judgement:
    held_by = holder(found, owner)
    if held_by is None:
        return Judgement(found, Verdict.CREATE)
    if held_by == owner:
        return Judgement(found, Verdict.KEEP if found.exists else Verdict.CREATE)
    if held_by == NOBODY and adopt_unmarked and found.name.startswith(ADOPTABLE_PREFIX):
        return Judgement(found, Verdict.ADOPT)
    return Judgement(found, Verdict.FOREIGN, held_by)


def describe_holder(held_by: str) -> str:
    if held_by == NOBODY:
        return "nobody: it carries no control plane's mark (made by hand, or before plane ids)"
    return f"control plane {held_by}"


def refusal(judgement: Judgement, owner: str, where: str) -> str:
    """Why this plane leaves the resource alone, naming it and its owner."""
    assert judgement.holder is not None
    found = judgement.found
    state = "exists" if found.exists else "is reserved"
    return (
        f"{found.label} on {where} {state} and belongs to {describe_holder(judgement.holder)}; "
        f"control plane {owner} does not adopt, change or remove it"
    )
