"""Workers' heartbeats and the takeover of a dead worker's workflows.

Each worker records a heartbeat in the state database. A worker silent for longer
than the configured time is claimed by exactly one live worker (a conditional
UPDATE), which asks DBOS to recover its pending workflows; DBOS re-enqueues them,
and its atomic dequeue gives each to exactly one runner.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import structlog

from hostplane.errors import HostplaneError
from hostplane.kernel.store.tables import WorkerRow
from hostplane.kernel.store.types import utcnow
from hostplane.kernel.store.uow import Store

log = structlog.get_logger(__name__)


class WorkerHeartbeat:
    def __init__(
        self,
        store: Store,
        executor_id: str,
        *,
        interval: float,
        dead_after: float,
        recover: Callable[[str], int],
    ) -> None:
        self.store = store
        self.executor_id = executor_id
        self.interval = interval
        self.dead_after = timedelta(seconds=dead_after)
        self.recover = recover
        self.hostname = socket.gethostname()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def register(self) -> None:
        """Claim this executor id; refuse when a live worker elsewhere already uses it."""
        with self.store.unit_of_work() as uow:
            row = uow.workers.get(self.executor_id)
            if row is not None and self._held_by_another_live_worker(row):
                age = (utcnow() - row.heartbeat_at).total_seconds()
                raise HostplaneError(
                    f"executor id {self.executor_id!r} is in use by a live worker (pid "
                    f"{row.pid} on {row.hostname}, heartbeat {age:.0f} s ago): give each "
                    "worker its own HOSTPLANE_EXECUTOR_ID"
                )
            if row is None:
                row = uow.workers.add(
                    WorkerRow(executor_id=self.executor_id, hostname=self.hostname, pid=0)
                )
            row.hostname, row.pid = self.hostname, os.getpid()
            row.started_at = row.heartbeat_at = utcnow()
            row.recovered_by = row.recovered_at = None

    def _held_by_another_live_worker(self, row: WorkerRow) -> bool:
        if utcnow() - row.heartbeat_at > self.dead_after:
            return False
        if row.hostname != self.hostname:
            return True
        return row.pid != os.getpid() and Path(f"/proc/{row.pid}").exists()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
                self.take_over()
            except Exception as exc:  # the state database may be down for a while
                log.warning("worker.heartbeat_failed", error=str(exc))

    def beat(self) -> None:
        with self.store.unit_of_work() as uow:
            uow.workers.beat(self.executor_id)

    def take_over(self) -> list[str]:
        cutoff = utcnow() - self.dead_after
        with self.store.unit_of_work() as uow:
            silent = uow.workers.silent_since(cutoff, other_than=self.executor_id)
        taken = []
        for executor in silent:
            with self.store.unit_of_work() as uow:
                won = uow.workers.claim(executor, self.executor_id, cutoff)
            if won:
                recovered = self.recover(executor)
                log.warning(
                    "worker.taken_over", dead=executor, workflows=recovered, by=self.executor_id
                )
                taken.append(executor)
        return taken

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
