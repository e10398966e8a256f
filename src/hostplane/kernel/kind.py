"""What a kind hands the kernel: one descriptor per kind, and the registry that indexes them.

The kernel never names a kind. A kind's folder exports one `Kind`; `hostplane.registry` lists
them; the engine, the saga, the reconciler, the API app and the CLI loop over the registry.
A kind may name a parent; a parent reaches its children only through extension points it
declares (named hooks that children contribute to), never by importing them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from hostplane.kernel.drift import Observer
from hostplane.kernel.lifecycle import Lifecycle
from hostplane.kernel.steps import StepDef
from hostplane.kernel.store.tables import OperationRow
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.settings import Settings

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Plan:
    """What an operation's saga runs, decided when it begins (pure data, checkpointed).

    `undo`: the steps are undone in order (a teardown); else applied, and on a failure the
    started ones are undone in reverse when `compensate`. `failure` prefixes the error of a
    teardown or an uncompensated run that stopped. `finished`: the operation ended before its
    workflow began (superseded): nothing runs."""

    steps: tuple[str, ...]
    undo: bool = False
    compensate: bool = True
    failure: str = "stopped at a step"
    finished: bool = False


class SagaHooks(Protocol[T]):
    """How a kind's operations move its resource through its lifecycle. Each hook runs in the
    kernel's transaction for the step (begin, failed, finish) and is idempotent."""

    def load(self, uow: UnitOfWork, op: OperationRow) -> T:
        """What the operation's steps work on, read afresh (a request names, never snapshots)."""
        ...

    def log_context(self, target: T) -> dict[str, str]: ...

    def begin(self, ctx: Any, uow: UnitOfWork, op: OperationRow, target: T) -> Plan: ...

    def failed(
        self, ctx: Any, uow: UnitOfWork, op: OperationRow, target: T, error: str
    ) -> None: ...

    def finish(
        self, ctx: Any, uow: UnitOfWork, op: OperationRow, target: T, error: str | None
    ) -> str | None:
        """Commit the resource's end state; return the error to record (it may say more)."""
        ...


class Daemon(Protocol):
    """A process a worker keeps running for a kind (a server it supervises); it outlives the
    worker: `stop()` stops watching it, the next worker's `start()` adopts it."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Schedule:
    name: str
    workflow: Callable[..., Any]
    cron: str


@dataclass(frozen=True)
class Kind(Generic[T]):
    name: str
    parent: str | None = None
    lifecycle: Lifecycle | None = None
    table: Any = None  # the kind's row class (with a `status` column), for the metrics
    # Operation kind → the durable workflow that runs it (its id is the operation id).
    operations: Mapping[str, Callable[[str], str]] = field(default_factory=dict)
    saga: SagaHooks[T] | None = None
    steps: Sequence[StepDef[T]] = ()
    schedules: Callable[[Settings], Sequence[Schedule]] = lambda settings: ()
    routers: Sequence[Any] = ()  # FastAPI routers, mounted by the API app
    observer: Observer | None = None
    # Extension point name → this kind's contribution (see the parent kind's declaration).
    contributes: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    on_start: Callable[[Any], None] | None = None  # a worker starting (restore, regenerate)
    # What a worker supervises for the kind (given the composition root), started after
    # on_start and left running when it stops.
    daemons: Callable[[Any], Sequence[Daemon]] = lambda ctx: ()


class Registry:
    """The kinds, indexed: by name, by operation kind, by step name, by extension point."""

    def __init__(self, kinds: Sequence[Kind[Any]]) -> None:
        self.kinds = tuple(kinds)
        self._by_name = {k.name: k for k in self.kinds}
        self._by_operation: dict[str, Kind[Any]] = {}
        self._steps: dict[str, StepDef[Any]] = {}
        for kind in self.kinds:
            if kind.parent is not None and kind.parent not in self._by_name:
                raise ValueError(f"kind {kind.name}: its parent {kind.parent} is not registered")
            for op_kind in kind.operations:
                if op_kind in self._by_operation:
                    raise ValueError(f"operation kind {op_kind} is claimed twice")
                self._by_operation[op_kind] = kind
            for step in kind.steps:
                if step.name in self._steps:
                    raise ValueError(f"step {step.name} is defined twice")
                self._steps[step.name] = step

    def __iter__(self) -> Iterator[Kind[Any]]:
        return iter(self.kinds)

    def kind(self, name: str) -> Kind[Any]:
        return self._by_name[name]

    def for_operation(self, op_kind: str) -> Kind[Any]:
        return self._by_operation[op_kind]

    def step(self, name: str) -> StepDef[Any]:
        return self._steps[name]

    def children(self, name: str) -> list[Kind[Any]]:
        return [k for k in self.kinds if k.parent == name]

    def contributions(self, point: str) -> list[Callable[..., Any]]:
        """Every kind's contribution to the extension point `point`, in registry order."""
        return [k.contributes[point] for k in self.kinds if point in k.contributes]

    def workflows(self) -> dict[str, Callable[[str], str]]:
        return {op: wf for k in self.kinds for op, wf in k.operations.items()}
