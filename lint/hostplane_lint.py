"""An import-linter contract for the kernel-and-kinds layout, derived from the kinds
themselves, so a new kind is checked without editing this file or pyproject.toml.

For every package under `kinds_package`:
- it imports another kind only if that kind is one of its declared ancestors (the `PARENT`
  constant of each kind's model.py, read without importing anything);
- inside it, modules import only their own layer or lower ones: model, then table, then
  repo, then the rest (steps, requests, lifecycle, views, ...), then workflow, then api, cli
  and observe, then kind (the descriptor);
- its model imports none of `impure` (SQL, HTTP, Docker, the workflow engine, ...), not even
  through another module.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from typing import Any

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck

RANKS = {
    "model": 0,
    "table": 1,
    "repo": 2,
    "workflow": 4,
    "api": 5,
    "cli": 5,
    "observe": 5,
    "kind": 6,
}
OTHER = 3


def _rank(module: str, kind_package: str) -> int:
    rest = module[len(kind_package) + 1 :].split(".")[0] if module != kind_package else "kind"
    return RANKS.get(rest, OTHER)


def _parents(kinds_dir: Path) -> dict[str, str | None]:
    parents: dict[str, str | None] = {}
    for model in sorted(kinds_dir.glob("*/model.py")):
        parent = None
        for node in ast.parse(model.read_text()).body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "PARENT" for t in node.targets
            ):
                assert isinstance(node.value, ast.Constant)
                parent = str(node.value.value)
        parents[model.parent.name] = parent
    return parents


def _ancestors(kind: str, parents: dict[str, str | None]) -> set[str]:
    found: set[str] = set()
    while (parent := parents.get(kind)) is not None:
        found.add(parent)
        kind = parent
    return found


class KindsContract(Contract):
    kinds_package = fields.StringField()
    impure = fields.ListField(subfield=fields.StringField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        root = str(self.kinds_package)
        spec = importlib.util.find_spec(root)
        assert spec is not None and spec.submodule_search_locations, root
        parents = _parents(Path(next(iter(spec.submodule_search_locations))))
        problems: list[str] = []
        for kind in parents:
            package = f"{root}.{kind}"
            allowed = {f"{root}.{k}" for k in _ancestors(kind, parents) | {kind}}
            for module in sorted(graph.find_descendants(package) | {package}):
                problems += self._check_module(graph, module, package, allowed, root)
        return ContractCheck(kept=not problems, metadata={"problems": problems})

    def _check_module(
        self, graph: ImportGraph, module: str, package: str, allowed: set[str], root: str
    ) -> list[str]:
        problems = []
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if not imported.startswith(root + "."):
                continue
            other = ".".join(imported.split(".")[:3])
            if other not in allowed:
                problems.append(f"{module} imports {imported}: not an ancestor kind")
            elif other == package and _rank(imported, package) > _rank(module, package):
                problems.append(f"{module} imports {imported}: a higher layer of its kind")
        if module == f"{package}.model":
            for name in self.impure:  # type: ignore[attr-defined]
                if name in graph.modules and graph.chain_exists(
                    module, str(name), as_packages=True
                ):
                    chain = graph.find_shortest_chain(module, str(name), as_packages=True)
                    problems.append(f"{module} is not pure: {' -> '.join(chain or [name])}")
        return problems

    def render_broken_contract(self, check: ContractCheck) -> None:
        for problem in check.metadata["problems"]:
            output.print_error(problem, bold=False)
            output.new_line()


__all__: list[Any] = ["KindsContract"]
