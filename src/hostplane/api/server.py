"""uvicorn's server, woken once a second instead of ten times when idle, and at once by the
signal that stops it. uvicorn's main loop sleeps 0.1 s between checks of its exit flag: a
sixth of an idle control plane's CPU."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from types import FrameType

import uvicorn

TICK = 1.0
# uvicorn's on_tick refreshes the Date header on every tenth of its 0.1 s ticks.
TICKS_PER_DATE = 10


class QuietServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._woken: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop, self._woken = asyncio.get_running_loop(), asyncio.Event()
        ticks = 0
        should_exit = await self.on_tick(ticks)
        while not should_exit:
            ticks = (ticks + TICKS_PER_DATE) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), TICK)
            should_exit = await self.on_tick(ticks)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._loop is not None and self._woken is not None:
            self._loop.call_soon_threadsafe(self._woken.set)


def serve(app: object, host: str, port: int) -> None:
    """What uvicorn.run does for one process without reload, with QuietServer."""
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )
    server = QuietServer(config)
    server.run()
    if not server.started:
        sys.exit(3)  # uvicorn's STARTUP_FAILURE, as uvicorn.run exits
