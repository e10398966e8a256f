"""The supervision the edge's processes and PowerDNS share, on real processes (`sleep`): a
watched process that dies is started again at once, a failing restart backs off, watching
stops promptly, and an idle watcher sleeps instead of polling."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from hostplane.providers.supervision import Supervised
from tests.e2e.harness import wait_for


class Sleeper:
    """`sleep 600` under a Supervised, started again by `restart` (which fails while told)."""

    def __init__(self, root: Path) -> None:
        self.process = Supervised("sleeper", root / "sleeper.log", interval=0.05)
        self.pid_file = root / "sleeper.pid"
        self.root = root
        self.restarts: list[float] = []
        self.failing = threading.Event()

    def start(self) -> int:
        argv = ["sleep", "600"]
        return self.process.spawn(
            argv, env={"PATH": os.environ["PATH"]}, cwd=self.root, pid_file=self.pid_file
        )

    def restart(self) -> None:
        self.restarts.append(time.monotonic())
        if self.failing.is_set():
            raise RuntimeError("injected: cannot start")
        self.start()

    def stop(self) -> None:
        self.process.stop_watching()
        self.process.end()


def test_a_killed_process_is_started_again_and_its_pid_file_names_the_new_one(tmp_path):
    sleeper = Sleeper(tmp_path)
    first = sleeper.start()
    sleeper.process.keep_running(sleeper.restart)
    try:
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: sleeper.process.pid not in (None, first), "a new sleep", timeout=5)
        assert sleeper.pid_file.read_text().strip() == str(sleeper.process.pid)
        assert not sleeper.process.exited()
    finally:
        sleeper.stop()


def test_failed_restarts_back_off_then_it_is_started_once_it_can_be(tmp_path):
    sleeper = Sleeper(tmp_path)
    first = sleeper.start()
    sleeper.process.keep_running(sleeper.restart)
    try:
        sleeper.failing.set()
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: len(sleeper.restarts) >= 4, "four failed restarts", timeout=10)
        gaps = [b - a for a, b in zip(sleeper.restarts, sleeper.restarts[1:], strict=False)]
        assert gaps[2] > gaps[0] * 1.5, gaps  # the pause grows: no busy loop on a dead pidfd
        sleeper.failing.clear()
        wait_for(lambda: not sleeper.process.exited(), "the restart that works", timeout=10)
    finally:
        sleeper.stop()


def test_stopping_the_watch_is_prompt_and_leaves_the_process_running(tmp_path):
    sleeper = Sleeper(tmp_path)
    pid = sleeper.start()
    sleeper.process.keep_running(sleeper.restart)
    time.sleep(0.1)  # the watcher is asleep on the pidfd
    started = time.monotonic()
    sleeper.process.detach()
    assert time.monotonic() - started < 1.0
    try:
        assert Path(f"/proc/{pid}").exists() and sleeper.restarts == []
    finally:
        os.kill(pid, signal.SIGKILL)


def test_an_idle_watcher_does_not_wake_up(tmp_path):
    sleeper = Sleeper(tmp_path)
    sleeper.start()
    sleeper.process.keep_running(sleeper.restart)
    try:
        watcher = next(t for t in threading.enumerate() if t.name == "sleeper-watch")
        assert watcher.native_id is not None
        switches = Path(f"/proc/self/task/{watcher.native_id}/status")

        def voluntary() -> int:
            line = next(x for x in switches.read_text().splitlines() if x.startswith("volun"))
            return int(line.split()[1])

        before = voluntary()
        time.sleep(1.0)  # at the 0.05 s interval a polling watcher would wake 20 times
        assert voluntary() - before <= 1
    finally:
        sleeper.stop()
