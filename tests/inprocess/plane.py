"""A control plane in the test process: the real registry and engine (DBOS on a SQLite file),
a migrated SQLite state store and fake providers; crashes and pauses at failpoints.

`Plane.restart()` is a worker process dying and starting again with the same executor id:
DBOS is destroyed and launched afresh, and recovers the workflows left PENDING.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from dbos import DBOS, SetWorkflowID

from hostplane.api.deps import submit
from hostplane.kernel import runtime
from hostplane.kernel.engine import WorkflowEngine
from hostplane.kernel.kind import Registry
from hostplane.kernel.operations import Submitted
from hostplane.kernel.store.tables import (
    AuditEventRow,
    OperationRow,
    OperationStepRow,
    ReconcileRunRow,
    StatusEventRow,
)
from hostplane.kernel.store.uow import Store
from hostplane.kinds.domain.table import DomainRow
from hostplane.kinds.site.repo import sites
from hostplane.kinds.site.table import SiteRow
from hostplane.reconciler import run as reconcile_run
from hostplane.settings import Settings
from tests.inprocess.fakes import FakeWorld

ENDED = frozenset({"SUCCESS", "ERROR", "CANCELLED"})


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.002)


class Crash(BaseException):
    """The worker dies here: nothing after this point runs or is checkpointed (as SIGKILL).
    A BaseException: the saga's and DBOS's `except Exception` let it through."""


class Gate:
    """A pause at a failpoint: the thread that reaches it waits until it is opened."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self._open = threading.Event()

    def wait_reached(self, timeout: float = 10.0) -> None:
        assert self.reached.wait(timeout), "no workflow reached the gate"

    def open(self) -> None:
        self._open.set()

    def __call__(self) -> None:
        self.reached.set()
        assert self._open.wait(30), "the gate was never opened"


class Failpoints:
    """Actions at the kernel's failpoints (hostplane.failpoints.hit), each on the nth hit."""

    def __init__(self) -> None:
        self._armed: dict[str, tuple[int, Callable[[], None]]] = {}
        self.hits: list[str] = []
        self.gates: list[Gate] = []
        self._lock = threading.Lock()

    def crash_at(self, name: str, nth: int = 1) -> None:
        def crash() -> None:
            raise Crash(name)

        self._arm(name, nth, crash)

    def hold_at(self, name: str, nth: int = 1) -> Gate:
        gate = Gate()
        self.gates.append(gate)
        self._arm(name, nth, gate)
        return gate

    def _arm(self, name: str, nth: int, action: Callable[[], None]) -> None:
        """`action` on the nth hit of `name` from now on."""
        with self._lock:
            self._armed[name] = (self.hits.count(name) + nth, action)

    def hit(self, name: str) -> None:
        with self._lock:
            self.hits.append(name)
            armed = self._armed.get(name)
            if armed is None or self.hits.count(name) != armed[0]:
                return
            del self._armed[name]
        armed[1]()

    def open_all(self) -> None:
        for gate in self.gates:
            gate.open()


class Plane:
    def __init__(
        self, settings: Settings, store: Store, world: FakeWorld, registry: Registry
    ) -> None:
        self.settings = settings
        self.store = store
        self.world = world
        self.services = world.services
        self.registry = registry
        runtime.bind(registry, world.services)
        self.engine = WorkflowEngine(settings, store, registry)
        self.engine.register(reconcile_run.KIND, reconcile_run.reconcile)
        self.engine.launch()

    # Running -------------------------------------------------------------

    def submit(self, sub: Submitted) -> str:
        """As the API does after its commit: stop what the request superseded, then start it."""
        submit(self.engine, sub)
        assert sub.operation_id is not None
        return sub.operation_id

    def run(self, sub: Submitted, timeout: float = 10.0) -> Any:
        return self.wait(self.submit(sub), timeout)

    def reconcile(self, *, dry_run: bool = False, prune: bool = False) -> ReconcileRunRow:
        """A reconcile run to its end, as `hostctl reconcile` asks for one; its run record."""
        op_id = reconcile_run.record_request(
            self.services, dry_run=dry_run, prune=prune, trigger="request", actor="test"
        )
        self.engine.submit(op_id, reconcile_run.KIND)
        self.wait(op_id)
        with self.store.unit_of_work() as uow:
            run = uow.reconcile_runs.get(op_id)
            assert run is not None
            return run

    def run_until_crash(self, sub: Submitted) -> None:
        """Run the operation's workflow here, in the test's thread, until a Crash kills it."""
        assert sub.operation_id is not None and sub.kind is not None
        workflow = self.engine.workflows[sub.kind]
        try:
            with SetWorkflowID(sub.operation_id):
                workflow(sub.operation_id)
        except Crash:
            assert self.workflow_status(sub.operation_id) == "PENDING"
            return
        raise AssertionError("the workflow ended without reaching its crash")

    def restart(self, executor_id: str | None = None) -> None:
        """The worker dies and a worker starts under the same executor id (or another)."""
        self.shutdown()
        if executor_id is not None:
            self.settings = self.settings.model_copy(update={"executor_id": executor_id})
        self.engine = WorkflowEngine(self.settings, self.store, self.registry)
        self.engine.launch()

    def wait(self, workflow_id: str, timeout: float = 10.0) -> Any:
        """The workflow's result once it has ended (SUCCESS), else raise its error."""
        self.ended(workflow_id, timeout)
        return DBOS.retrieve_workflow(workflow_id).get_result()

    def ended(self, workflow_id: str, timeout: float = 10.0) -> str:
        """The workflow's DBOS status once it has ended: SUCCESS, ERROR or CANCELLED."""
        deadline = time.monotonic() + timeout
        while (status := self.workflow_status(workflow_id)) not in ENDED:
            assert time.monotonic() < deadline, f"workflow {workflow_id} did not end"
            time.sleep(0.005)
        assert status is not None
        return status

    def workflow_status(self, workflow_id: str) -> str | None:
        status = DBOS.get_workflow_status(workflow_id)
        return None if status is None else str(status.status)

    def shutdown(self) -> None:
        """Stop the worker once every workflow it started here has ended (a cancelled one may
        still be finishing the step it was in), so none outlives its test."""
        slots = self.engine._slots
        assert slots is not None
        eventually(lambda: slots._value == self.settings.worker_concurrency)  # type: ignore[attr-defined]
        self.engine.shutdown()

    # Reading the state database ---------------------------------------------

    def operation(self, operation_id: str) -> OperationRow:
        with self.store.unit_of_work() as uow:
            op = uow.operations.get(operation_id)
            assert op is not None
            return op

    def operations(self) -> Sequence[OperationRow]:
        with self.store.unit_of_work() as uow:
            return uow.session.query(OperationRow).order_by(OperationRow.created_at).all()

    def steps(self, operation_id: str) -> list[tuple[str, str, str, str | None]]:
        """(name, phase, status, outcome) of every recorded step run, in order."""
        with self.store.unit_of_work() as uow:
            rows: Sequence[OperationStepRow] = uow.operations.steps(operation_id)
            return [(r.name, r.phase, r.status, r.outcome) for r in rows]

    def site(self, name: str) -> SiteRow:
        with self.store.unit_of_work() as uow:
            row = sites(uow).get_latest(name)
            assert row is not None
            return row

    def domain(self, name: str) -> DomainRow:
        with self.store.unit_of_work() as uow:
            rows = uow.session.query(DomainRow).filter(DomainRow.name == name).all()
            assert rows, f"no domain {name}"
            return max(rows, key=lambda r: r.created_at)

    def events(self, resource_id: str) -> list[tuple[str | None, str]]:
        """(from, to) of every status event of the resource, in order."""
        with self.store.unit_of_work() as uow:
            rows = (
                uow.session.query(StatusEventRow)
                .filter(StatusEventRow.resource_id == resource_id)
                .order_by(StatusEventRow.id)
                .all()
            )
            return [(r.from_status, r.to_status) for r in rows]

    def audit(self) -> list[tuple[str, str, str]]:
        """(action, target, decision) of every audit event, in order."""
        with self.store.unit_of_work() as uow:
            rows = uow.session.query(AuditEventRow).order_by(AuditEventRow.id).all()
            return [(r.action, r.target_name, r.decision) for r in rows]
