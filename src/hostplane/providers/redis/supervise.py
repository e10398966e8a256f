"""A thread that keeps the cache instances of this plane running: `watch_once` every round."""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

from hostplane.providers.redis.instances import RedisInstances

log = structlog.get_logger(__name__)


class RedisSupervisor:
    """Restarts dead instances every `interval` seconds; `on_restart(names)` is told which."""

    def __init__(
        self,
        instances: RedisInstances,
        interval: float = 1.0,
        on_restart: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.instances = instances
        self.interval = interval
        self.on_restart = on_restart
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="redis-supervisor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                restarted = self.instances.watch_once()
            except Exception as exc:  # the next round tries again; the loop never dies
                log.error("redis.supervisor.round_failed", error=str(exc))
                continue
            if restarted and self.on_restart is not None:
                self.on_restart(restarted)
