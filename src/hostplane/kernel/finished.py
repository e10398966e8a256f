"""Wake-ups for whoever waits in this process for an operation to end (the API's
`GET /v1/operations/{id}?wait=`): the unit of work that finishes an operation wakes them once
it has committed. An operation finished by another process (an API-only plane's, run by a
separate worker) wakes no one here: a waiter reads again by itself every RECHECK seconds."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator

RECHECK = 0.25


class FinishedOperations:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}

    def notify(self, operation_id: str) -> None:
        """The operation's end is committed: wake its waiters (from any thread)."""
        with self._lock:
            waiters = self._waiters.pop(operation_id, [])
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # its loop has closed: no one waits
                loop.call_soon_threadsafe(event.set)

    @contextlib.asynccontextmanager
    async def watching(self, operation_id: str) -> AsyncIterator[asyncio.Event]:
        """An event set when the operation ends; taken before the operation is read, so an end
        committed between the read and the wait is not missed."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.setdefault(operation_id, []).append(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                waiters = self._waiters.get(operation_id, [])
                if entry in waiters:
                    waiters.remove(entry)
                if not waiters:
                    self._waiters.pop(operation_id, None)


FINISHED = FinishedOperations()
