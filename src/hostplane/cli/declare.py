"""The pure half of `hostctl apply`: a declarative file checked against the sections the kinds
declare, with line numbers, and the actions that bring the current state to it.

A kind declares its sections in its cli module (`APPLY_SECTIONS`): the key it owns in the
file (`plans`, `tenants`, or `sites` nested under a tenant), its fields, how to read an item's
current state through the API (`observe`) and what to do about the difference (`diff`, pure).
Nothing here does I/O: cli/seedfile.py reads a file's text into items, `hostctl apply`
(cli/apply.py) reads the API and runs the actions; the tests give text and current states.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# GET a path of the API: its JSON, or None when it is not there (404).
Get = Callable[[str], Any]


@dataclass(frozen=True)
class Field:
    """One key of an item. `check` raises (ValueError or a HostplaneError) saying what is wrong
    with a value of the right type (a name the API would refuse)."""

    name: str
    type: type = str
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    check: Callable[[Any], object] | None = None


@dataclass(frozen=True)
class Section:
    """What a kind owns in the file: a list under `key`, at the top (`parent` None) or in each
    item of the section whose key is `parent`. `identity` names an item (unique in the whole
    file); `shorthand`, when set, lets an item be written as that one scalar
    (`domains: [www.acme.test]`).

    `observe(get, item)` returns the item's current state as the API shows it, or None when it
    does not exist (I/O only through `get`, whose answers are cached); `diff(item, current)`
    returns what to do about it: actions, and problems that stop the apply (pure)."""

    key: str
    noun: str
    fields: tuple[Field, ...]
    observe: Callable[[Get, Item], Mapping[str, Any] | None]
    diff: Callable[[Item, Mapping[str, Any] | None], Sequence[Action | Problem]]
    parent: str | None = None
    identity: str = "name"
    shorthand: str | None = None


@dataclass(eq=False)
class Item:
    """One entry of a section, its values checked (defaults filled in), where it was (and
    where each value given was)."""

    section: Section
    values: dict[str, Any]
    given: frozenset[str]
    line: int
    parent: Item | None = None
    children: list[Item] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.values.get(self.section.identity))

    @property
    def label(self) -> str:
        """How messages name it: `site shop`."""
        return f"{self.section.noun} {self.name}"

    def value(self, key: str) -> Any:
        return self.values.get(key)

    def problem(self, message: str, key: str | None = None) -> Problem:
        """A problem of the item, at the line of its value `key` when the file gave it."""
        return Problem(self.lines.get(key or "", self.line), f"{self.label}: {message}")


@dataclass(frozen=True)
class Problem:
    line: int
    message: str


@dataclass(frozen=True)
class Action:
    """One API request. `follow`: await the operation its answer names, to the end (and, with
    `expect`, check that GET `expect[0]` then shows status `expect[1]`); otherwise the answer
    alone (the request accepted or done) is its result, and `note` says what happens next."""

    summary: str
    method: str
    path: str
    body: Mapping[str, Any] | None
    line: int
    follow: bool = True
    expect: tuple[str, str] | None = None
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.summary,
            "line": self.line,
            "request": {"method": self.method, "path": self.path, "body": self.body},
        }


@dataclass
class Document:
    items: list[Item]
    problems: list[Problem]


def plan(
    items: Sequence[Item],
    current: Mapping[Item, Mapping[str, Any] | None],
    sections: Sequence[Section],
) -> tuple[list[Action], list[Problem]]:
    """The actions that bring `current` (each item's state, None: missing) to the file, in the
    sections' order (parents' kinds before their children's, so a tenant is made before its
    sites), each section's in the file's order; and the problems that forbid it."""
    actions: list[Action] = []
    problems: list[Problem] = []
    rank = {s.key: i for i, s in enumerate(sections)}
    for item in sorted(items, key=lambda i: rank[i.section.key]):
        for change in item.section.diff(item, current.get(item)):
            if isinstance(change, Action):
                actions.append(change)
            else:
                problems.append(change)
    problems.sort(key=lambda p: p.line)
    return actions, problems


def check_sections(sections: Sequence[Section]) -> None:
    """Every section nests under one declared before it (the registry lists parents first),
    and no key is declared twice: a kind that breaks this is a programming error."""
    seen: set[str] = set()
    for section in sections:
        if section.key in seen:
            raise ValueError(f"apply section {section.key!r} is declared twice")
        if section.parent is not None and section.parent not in seen:
            raise ValueError(
                f"apply section {section.key!r} nests under {section.parent!r}, "
                "which no kind before it declares"
            )
        seen.add(section.key)
