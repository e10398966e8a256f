"""The durable workflow engine (DBOS): launch, submit operations, recover lost submissions."""

from __future__ import annotations

import functools
import logging
import threading
from concurrent.futures import Future
from typing import Any

import structlog
from dbos import DBOS, DBOSConfig, Queue, SetWorkflowID
from dbos import _workflow_commands as dbos_background
from dbos._error import DBOSAwaitedWorkflowCancelledError, DBOSWorkflowCancelledError
from sqlalchemy.engine import make_url

from hostplane.kernel.kind import Registry
from hostplane.kernel.store.db import ensure_database_exists, tune_sqlite_workflow_database
from hostplane.kernel.store.uow import Store
from hostplane.settings import Settings

log = structlog.get_logger(__name__)

QUEUE = "operations"
# Queue polls (HOSTPLANE_QUEUE_POLL_INTERVAL unset): a worker's work all comes from the queue;
# a process serving the API starts its own operations at once and polls for the rest.
POLL_WORKER, POLL_SERVING_API = 0.2, 2.0
# DBOS's background jobs (start DELAYED workflows whose delay ended, cancel workflows past
# their deadline) run every second by default: two queries a second, a third of an idle
# plane's CPU. The plane uses neither delays nor deadlines, so once in a while is enough.
BACKGROUND_JOBS_INTERVAL = 30.0


class CancelledIsInfo(logging.Filter):
    """A workflow stopped on purpose (its operation was superseded) is an event, not an error:
    DBOS logs the cancellation at ERROR with a traceback and again at WARNING; the engine has
    logged it once at INFO already (WorkflowEngine.cancel), so both are dropped."""

    CANCELLED = (DBOSAwaitedWorkflowCancelledError, DBOSWorkflowCancelledError)

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, self.CANCELLED):
            return False
        return "was cancelled during execution" not in record.getMessage()


def dbos_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


class WorkflowEngine:
    """One per process. `work=False` makes an API-only process that enqueues but never runs."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        registry: Registry,
        *,
        work: bool = True,
        serves_api: bool = False,
    ) -> None:
        self.settings = settings
        self.store = store
        self.work = work
        self.poll_interval = settings.queue_poll_interval or (
            POLL_SERVING_API if serves_api else POLL_WORKER
        )
        self._queue: Queue | None = None
        # A process that works starts its own submissions at once while it has free slots,
        # instead of waiting for its next queue poll (~25 ms of every operation otherwise);
        # the rest goes through the queue, which every worker polls.
        self._slots = threading.BoundedSemaphore(settings.worker_concurrency) if work else None
        self.workflows: dict[str, Any] = registry.workflows()
        self.schedules: list[tuple[str, Any, str]] = [
            (s.name, s.workflow, s.cron) for kind in registry for s in kind.schedules(settings)
        ]

    def register(self, kind: str, workflow: Any) -> None:
        """A workflow of a layer above this one (the reconciler), run for `kind`."""
        self.workflows[kind] = workflow

    def add_schedule(self, name: str, workflow: Any, cron: str) -> None:
        self.schedules.append((name, workflow, cron))

    def launch(self) -> None:
        url = self.settings.workflow_db_url
        ensure_database_exists(url)
        tune_sqlite_workflow_database(url)
        config: DBOSConfig = {
            "name": "hostplane",
            "system_database_url": dbos_url(url),
            "executor_id": self.settings.executor_id,
            "log_level": "WARNING",
        }
        DBOS(config=config)
        dbos_background._BACKGROUND_JOBS_INTERVAL_SEC = BACKGROUND_JOBS_INTERVAL
        logging.getLogger("dbos").addFilter(CancelledIsInfo())
        if not self.work:
            DBOS.listen_queues([])
        DBOS.launch()
        self._queue = DBOS.register_queue(
            QUEUE,
            worker_concurrency=self.settings.worker_concurrency,
            polling_interval_sec=self.poll_interval,
        )
        if self.work and self.schedules:
            # Kept in the workflow database: every worker shares them, each tick runs once.
            DBOS.apply_schedules(
                [
                    {"schedule_name": name, "workflow_fn": fn, "schedule": cron}
                    for name, fn, cron in self.schedules
                ]
            )
        log.info("workflows.launched", executor=self.settings.executor_id, work=self.work)

    def submit(self, operation_id: str, kind: str) -> None:
        """Start or enqueue the operation's workflow; its id is the operation id, so a second
        submission of the same operation is a no-op either way."""
        assert self._queue is not None, "launch() first"
        if self._slots is not None and self._slots.acquire(blocking=False):
            try:
                with SetWorkflowID(operation_id):
                    handle = DBOS.start_workflow(self.workflows[kind], operation_id)
            except BaseException:
                self._slots.release()
                raise
            future = getattr(handle, "future", None)
            if isinstance(future, Future):  # runs here: its slot is free when it ends
                future.add_done_callback(functools.partial(self._release_slot, operation_id))
            else:  # finished or running elsewhere already: nothing runs here
                self._slots.release()
            return
        with SetWorkflowID(operation_id):
            self._queue.enqueue(self.workflows[kind], operation_id)

    def cancel(self, operation_id: str) -> None:
        """Stop a workflow whose operation was superseded (it is finished in the database)."""
        try:
            DBOS.cancel_workflow(operation_id)
            log.info("workflow.cancelled", workflow=operation_id, reason="superseded")
        except Exception as exc:  # not started yet, or already over: nothing runs it either way
            log.info("workflow.cancel_skipped", workflow=operation_id, error=str(exc))

    def _release_slot(self, workflow_id: str, ended: Future[Any]) -> None:
        assert self._slots is not None
        self._slots.release()
        if not ended.cancelled() and (exc := ended.exception()) is not None:
            # The workflow records its own outcome; this only frees a slot.
            log.debug("workflow.ended_with_error", workflow=workflow_id, error=str(exc))

    def resubmit_lost(self) -> int:
        """Operations recorded but never enqueued (a crash between commit and enqueue)."""
        with self.store.unit_of_work() as uow:
            unfinished = [(op.id, op.kind) for op in uow.operations.unfinished()]
        # Kinds without a workflow of their own (a reconcile's repairs) are run, and resumed,
        # by the workflow that recorded them.
        lost = [
            (op_id, kind)
            for op_id, kind in unfinished
            if kind in self.workflows and DBOS.get_workflow_status(op_id) is None
        ]
        for op_id, kind in lost:
            log.warning("operation.resubmitted", operation=op_id, kind=kind)
            self.submit(op_id, kind)
        return len(lost)

    def recover_executor(self, executor_id: str) -> int:
        """Re-enqueue a dead executor's pending workflows; each runs on exactly one worker."""
        return len(DBOS._recover_pending_workflows([executor_id]))

    def shutdown(self) -> None:
        DBOS.destroy(destroy_registry=False)
