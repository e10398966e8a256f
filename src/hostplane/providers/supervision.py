"""A process the control plane starts or adopts and keeps running (the edge's Caddy and
HAProxy, PowerDNS): watched through a pidfd, which is readable once the process has exited
whether or not it is our child, so an adopted process is watched as exactly as one we
started; started again by a thread when it dies; ended by SIGTERM, then SIGKILL.

Each provider keeps what is its own: how it proves a running process is the one it started,
what it runs, when it is ready. This is the rest.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import structlog

from hostplane.providers.fs import atomic_write

log = structlog.get_logger(__name__)

WATCH_INTERVAL = 0.2
RESTART_BACKOFF_MAX = 30.0
END_GRACE = 10.0


class Supervised:
    """One process, started here (`spawn`) or adopted (`watch`). `name` prefixes its log
    events (`caddy.exited`, `caddy.stopped`)."""

    def __init__(self, name: str, log_file: Path, interval: float = WATCH_INTERVAL) -> None:
        self.name, self.log_file, self.interval = name, log_file, interval
        self.proc: subprocess.Popen[bytes] | None = None  # set while it is our child
        self.pid: int | None = None
        self._pidfd: int | None = None
        self._watcher: threading.Thread | None = None
        self._wake = -1  # the write end of a pipe that ends the watcher's sleep

    def spawn(self, argv: list[str], *, env: dict[str, str], cwd: Path, pid_file: Path) -> int:
        """Start `argv` in a session of its own (a signal to the control plane's group does not
        reach it), its output appended to the log, its pid written to `pid_file`; watched."""
        log_fd = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            self.proc = subprocess.Popen(
                argv,
                stdout=log_fd,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=cwd,
                umask=0o077,
                start_new_session=True,
            )
        finally:
            os.close(log_fd)
        atomic_write(pid_file, f"{self.proc.pid}\n", mode=0o600)
        self.watch(self.proc.pid)
        return self.proc.pid

    def watch(self, pid: int) -> None:
        """Watch `pid` from now on (a pidfd: a pid reused later is never mistaken for it).
        The caller proves, after this, that `pid` is still the process it checked."""
        self.close()
        if self.proc is not None and self.proc.pid != pid:
            self.proc = None
        self.pid = pid
        self._pidfd = os.pidfd_open(pid)

    def exited(self) -> bool:
        """Whether the watched process has exited (True when none is watched)."""
        if self._pidfd is None:
            return True
        ready, _, _ = select.select([self._pidfd], [], [], 0)
        if ready and self.proc is not None:
            self.proc.poll()  # our child: reap it
        return bool(ready)

    def exit_code(self) -> int | None:
        return self.proc.returncode if self.proc is not None else None

    def close(self) -> None:
        """Stop holding the pidfd (the process, if any, runs on)."""
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def keep_running(self, restart: Callable[[], None]) -> None:
        """A thread that calls `restart` as soon as the watched process has exited (it sleeps
        on the pidfd meanwhile: an idle plane does not poll); a failed restart is tried again
        after a growing pause (up to 30 s)."""
        wake, self._wake = os.pipe()
        self._watcher = threading.Thread(target=self._loop, args=(restart, wake), daemon=True)
        self._watcher.name = f"{self.name}-watch"
        self._watcher.start()

    def _sleep(self, wake: int, timeout: float | None) -> bool:
        """Until the watched process exits (with no `timeout`), `timeout` passes, or watching
        stops (True)."""
        fds = [wake] if timeout is not None or self._pidfd is None else [wake, self._pidfd]
        return wake in select.select(fds, [], [], timeout)[0]

    def _loop(self, restart: Callable[[], None], wake: int) -> None:
        try:
            self._watch(restart, wake)
        finally:
            os.close(wake)

    def _watch(self, restart: Callable[[], None], wake: int) -> None:
        pause = self.interval
        while not self._sleep(wake, pause if self.exited() else None):
            if not self.exited():
                continue
            log.warning(
                f"{self.name}.exited", pid=self.pid, code=self.exit_code(), log=self.log_tail(3)
            )
            try:
                self.proc = None
                restart()
                pause = self.interval
            except Exception as exc:  # keep watching; the next round tries again
                pause = min(pause * 2, RESTART_BACKOFF_MAX)
                log.error(f"{self.name}.restart_failed", error=str(exc), retry_in=pause)

    def stop_watching(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is None:
            return
        os.write(self._wake, b"x")
        os.close(self._wake)
        if watcher is not threading.current_thread():
            watcher.join(timeout=5)

    def detach(self) -> None:
        """Stop watching; the process keeps running, for the next start to adopt."""
        self.stop_watching()
        if self.pid is not None and not self.exited():
            log.info(f"{self.name}.left_running", pid=self.pid)
        self.close()

    def end(self) -> None:
        """End the watched process (SIGTERM, SIGKILL after 10 s) and forget it."""
        if self.pid is not None and self._pidfd is not None and not self.exited():
            end_fd(self._pidfd)
            if self.proc is not None:
                self.proc.poll()
            log.info(f"{self.name}.stopped", pid=self.pid)
        self.close()
        self.proc, self.pid = None, None

    def log_tail(self, lines: int = 8) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return "no log"
        return "\n".join(text.splitlines()[-lines:])


def end_fd(fd: int, grace: float = END_GRACE) -> None:
    """SIGTERM the process behind a pidfd (and SIGCONT: a stopped one too); SIGKILL if it
    outlives `grace` seconds. Returns once it has exited."""
    try:
        signal.pidfd_send_signal(fd, signal.SIGTERM)
        signal.pidfd_send_signal(fd, signal.SIGCONT)
        if not select.select([fd], [], [], grace)[0]:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
            select.select([fd], [], [], grace)
    except ProcessLookupError:
        pass


def end(pid: int, grace: float = END_GRACE) -> None:
    """End a process of ours that must be replaced (the caller proved it is ours)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        end_fd(fd, grace)
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """One control plane process (or thread: each call opens its own descriptor) at a time
    holds `path`'s lock: to decide whether to adopt or start a process, to write a file."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
