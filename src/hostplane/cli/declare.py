"""The pure half of `hostctl apply`: a declarative file checked against the sections the kinds
declare, with line numbers, and the actions that bring the current state to it.

A kind declares its sections in its cli module (`APPLY_SECTIONS`): the key it owns in the
file (`plans`, `tenants`, or `sites` nested under a tenant), its fields, how to read an item's
current state through the API (`observe`) and what to do about the difference (`diff`, pure).
Nothing here does I/O: `hostctl apply` (cli/apply.py) reads the file and the API and runs the
actions; the tests give text and current states.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hostplane.errors import HostplaneError

# GET a path of the API: its JSON, or None when it is not there (404).
Get = Callable[[str], Any]
TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false"}


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


def _scalar_value(node: ScalarNode) -> Any:
    try:
        return SafeConstructor().construct_object(node)
    except (ConstructorError, ValueError):
        return node.value


def _describe(node: Node) -> str:
    if isinstance(node, ScalarNode):
        value = _scalar_value(node)
        if value is None:
            return "nothing"
        if isinstance(value, bool):
            return str(value).lower()
        return repr(value) if isinstance(value, str) else str(value)
    return "a list" if isinstance(node, SequenceNode) else "a mapping"


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


class _Parser:
    def __init__(self, sections: Sequence[Section]) -> None:
        self.sections = list(sections)
        self.problems: list[Problem] = []
        self.items: list[Item] = []
        self.seen: dict[tuple[str, str], int] = {}

    def fail(self, node: Node, message: str) -> None:
        self.problems.append(Problem(_line(node), message))

    def nested(self, parent: str | None) -> list[Section]:
        return [s for s in self.sections if s.parent == parent]

    def mapping(self, node: MappingNode, where: str) -> dict[str, tuple[Node, Node]]:
        """Its keys (strings) with their key and value nodes; duplicates and odd keys
        reported."""
        found: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            key = _scalar_value(key_node) if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str):
                self.fail(key_node, f"{_describe(key_node)} is not a key {where}")
            elif key in found:
                first = _line(found[key][0])
                self.fail(key_node, f"duplicate key {key!r} {where} (first at line {first})")
            else:
                found[key] = (key_node, value_node)
        return found

    def sections_of(
        self, found: dict[str, tuple[Node, Node]], known: list[str], where: str
    ) -> None:
        for key, (key_node, _) in found.items():
            if key not in known:
                self.fail(key_node, f"unknown key {key!r} {where} (known: {', '.join(known)})")

    def document(self, root: Node | None) -> None:
        top = self.nested(None)
        if root is None:
            return
        if not isinstance(root, MappingNode):
            keys = ", ".join(s.key for s in top)
            self.fail(root, f"the file must be a mapping of sections ({keys}), not a list")
            return
        found = self.mapping(root, "at the top")
        self.sections_of(found, [s.key for s in top], "at the top")
        for section in top:
            if section.key in found:
                self.section(section, found[section.key][1], None)

    def section(self, section: Section, node: Node, parent: Item | None) -> None:
        if isinstance(node, ScalarNode) and _scalar_value(node) is None:
            return  # `sites:` with nothing under it
        if not isinstance(node, SequenceNode):
            where = f" of {parent.label}" if parent else ""
            self.fail(node, f"{section.key}{where} must be a list, not {_describe(node)}")
            return
        for index, entry in enumerate(node.value, 1):
            item = self.item(section, entry, parent, index)
            if item is not None:
                self.items.append(item)
                if parent is not None:
                    parent.children.append(item)

    def item(self, section: Section, node: Node, parent: Item | None, index: int) -> Item | None:
        where = f"item {index} of {section.key}" + (f" of {parent.label}" if parent else "")
        if isinstance(node, ScalarNode) and section.shorthand:
            found: dict[str, tuple[Node, Node]] = {section.shorthand: (node, node)}
        elif isinstance(node, MappingNode):
            found = self.mapping(node, f"in {where}")
        else:
            form = f"a mapping or a {section.shorthand}" if section.shorthand else "a mapping"
            self.fail(node, f"{where} must be {form}, not {_describe(node)}")
            return None
        ident = found.get(section.identity)
        name_ok = ident is not None and isinstance(_value(ident[1]), str)
        label = f"{section.noun} {_value(ident[1])}" if ident is not None and name_ok else where
        nested = self.nested(section.key)
        known = [f.name for f in section.fields] + [s.key for s in nested]
        self.sections_of(found, known, f"in {label}")
        values: dict[str, Any] = {}
        lines: dict[str, int] = {}
        given = set()
        valid = True
        for spec in section.fields:
            if spec.name not in found:
                if spec.required:
                    self.fail(node, f"{label}: missing key {spec.name!r}")
                    valid = False
                else:
                    values[spec.name] = spec.default
                continue
            value_node = found[spec.name][1]
            message = _check(spec, value_node)
            if message:
                self.fail(value_node, f"{label}: {message}")
                valid = False
            else:
                values[spec.name] = _value(value_node)
                lines[spec.name] = _line(value_node)
                given.add(spec.name)
        item = Item(section, values, frozenset(given), _line(node), parent, lines=lines)
        key = (section.key, item.name)
        if valid and key in self.seen:
            self.fail(node, f"{item.label} is already at line {self.seen[key]}")
            valid = False
        self.seen.setdefault(key, item.line)
        # A broken entry's children are still checked, so that one run reports every problem;
        # the file is applied only when there is none.
        for child in nested:
            if child.key in found:
                self.section(child, found[child.key][1], item)
        return item if valid else None


def _value(node: Node) -> Any:
    return _scalar_value(node) if isinstance(node, ScalarNode) else None


def _check(spec: Field, node: Node) -> str | None:
    """What is wrong with a value, or None."""
    value: Any = _value(node)
    expected = TYPE_NAMES.get(spec.type, spec.type.__name__)
    if not isinstance(node, ScalarNode) or value is None:
        return f"{spec.name} must be {expected}, not {_describe(node)}"
    if type(value) is not spec.type:  # bool is no int here, nor 1 a string
        quote = f" (quote it: '{node.value}')" if spec.type is str and not spec.choices else ""
        return f"{spec.name} must be {expected}, not {_describe(node)}{quote}"
    if spec.choices and value not in spec.choices:
        return f"{spec.name} must be one of {', '.join(spec.choices)}, not {value!r}"
    if spec.minimum is not None and isinstance(value, int) and value < spec.minimum:
        return f"{spec.name} must be at least {spec.minimum}, not {value}"
    if spec.maximum is not None and isinstance(value, int) and value > spec.maximum:
        return f"{spec.name} must be at most {spec.maximum}, not {value}"
    if spec.check is not None:
        try:
            spec.check(value)
        except (HostplaneError, ValueError) as exc:
            return str(exc)
    return None


def parse(text: str, sections: Sequence[Section]) -> Document:
    """The file's items, parents before their children, each checked against its section's
    fields; every problem found with its line (the items of a broken entry left out)."""
    parser = _Parser(sections)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else 1
        return Document([], [Problem(line, f"not YAML: {exc.problem or exc.context}")])
    except yaml.YAMLError as exc:
        return Document([], [Problem(1, f"not YAML: {exc}")])
    parser.document(root)
    return Document(parser.items, parser.problems)


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
