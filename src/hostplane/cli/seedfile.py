"""A seed file's text (YAML) checked against the sections the kinds declare: its items, and
every problem with its line (pure; apart from cli/declare.py so that yaml is loaded only when a
file is read, not at each start of hostctl)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hostplane.cli.declare import Document, Field, Item, Problem, Section
from hostplane.errors import HostplaneError

TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false"}


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
