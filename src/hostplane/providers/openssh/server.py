"""The SFTP server Hostplane runs: one sshd with the files config.py renders, its host key
made on first use, supervised like the edge and PowerDNS: started (`-D`, in a session of its
own) or adopted once proved ours (its pid file, and /proc: this sshd binary with this config),
restarted if it dies, left running when the control plane stops (`stop()` only stops
watching; `terminate()` ends it). Anything else on its address is a stranger: the start fails
naming the address. A changed config is checked (`sshd -t`) before it replaces the old one;
a running sshd then reloads it (SIGHUP) and keeps its sessions. The config names no tenant
(config.py): a tenant's access is its keys file alone, written or removed by itself
(`apply_user`), and sshd reads it at each login, so one tenant's change costs the same
whatever the number of tenants and reloads nothing.

The plane never loses track of the sshd it started. On SIGHUP sshd re-executes itself: same
pid, but its listener is closed until the new image binds again, and an sshd writing its own
pid file removes it meanwhile (then writes it after binding). A watcher that took that window
for an exit started a second sshd, whose pid it wrote over the first's; the one that lost the
race for the port exited, and when it was the new one the serving sshd was named nowhere: a
stranger on the plane's own port ever after, left running when the plane stopped. So sshd
writes no pid file (`PidFile none`): the plane writes it, remembers the pid it started or
adopted (a reload keeps it), writes the file again if it is lost, and restarts only an sshd
seen gone twice, holding the lock a reload is sent under.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog

from hostplane.errors import ForeignResourceError, PermanentError
from hostplane.naming import SYSTEM_USERS
from hostplane.providers.base import Outcome
from hostplane.providers.fs import atomic_write, ensure_dir
from hostplane.providers.openssh import files
from hostplane.providers.openssh.config import (
    SftpLayout,
    SftpState,
    SftpUser,
    check_user,
    render_config,
)
from hostplane.providers.powerdns.process import command_line

log = structlog.get_logger(__name__)

WATCH_INTERVAL = 0.5
GONE_RECHECK = 0.2  # seconds before a missing sshd is looked for again, then restarted


@dataclass(frozen=True, slots=True)
class SftpConfig:
    root: Path
    bind: str
    port: int
    binary: str = "/usr/sbin/sshd"
    users: str = SYSTEM_USERS  # the pattern of user names let in (and only with a keys file)


class SftpServer:
    def __init__(self, config: SftpConfig) -> None:
        self.config = config
        self.layout = SftpLayout(config.root)
        self._lock = threading.RLock()
        self._held = 0  # how deep this process holds the host lock (flock is not reentrant)
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None  # the sshd this server started or adopted
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """This SFTP server's files and process, held against every other thread and process
        on the host (an API and workers share them): a caller reads the database's state
        inside it, so an older state is never written over a newer one."""
        with self._lock:
            if self._held:
                self._held += 1
                try:
                    yield
                finally:
                    self._held -= 1
                return
            ensure_dir(self.config.root, 0o711, (0, 0))
            with (self.config.root / ".lock").open("a") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                self._held = 1
                try:
                    yield
                finally:
                    self._held = 0

    # The files -----------------------------------------------------------

    def apply(self, state: SftpState) -> Outcome:
        """Config and every keys file as `state` says; keys files of users not in it removed
        (start-up, reconcile, regenerate)."""
        with self.locked():
            changed = self._ensure_config()
            wanted = {check_user(u.user) for u in state.users}
            for user in state.users:
                changed |= files.write_keys(self.layout, user)
            for name in files.keys_files(self.layout) - wanted:
                changed |= files.remove_keys(self.layout, name)
        return Outcome.UPDATED if changed else Outcome.UNCHANGED

    def apply_user(self, name: str, user: SftpUser | None) -> Outcome:
        """One tenant's access: its keys file as `user` says, or none (`None`: not let in).
        The config is only read (written if it is not the one rendered); no other tenant's
        file is touched."""
        check_user(name)
        if user is not None and user.user != name:
            raise ValueError(f"the keys of {user.user} given for {name}")
        with self.locked():
            changed = self._ensure_config()
            if user is not None:
                written = files.write_keys(self.layout, user)
                return Outcome.UPDATED if written or changed else Outcome.UNCHANGED
            if files.remove_keys(self.layout, name):
                return Outcome.DELETED
            return Outcome.UPDATED if changed else Outcome.ABSENT

    def drift(self, state: SftpState) -> list[str]:
        """The files that are not the ones `state` renders (empty: in sync)."""
        return files.drift(self.layout, self._render(), state)

    def in_sync(self, state: SftpState) -> bool:
        return not self.drift(state)

    def _render(self) -> str:
        return render_config(self.layout, self.config.bind, self.config.port, self.config.users)

    def _ensure_config(self) -> bool:
        """The config as rendered, checked before it replaces the last good one; a running
        sshd then reloads it. False, after one read, when it is already the one."""
        files.prepare(self.layout)
        if not files.replace_config(self.layout, self._render(), self.config.binary):
            return False
        if (pid := self.running_pid()) is not None:
            os.kill(pid, signal.SIGHUP)
            log.info("sftp.reloaded", pid=pid)
        return True

    # The process ---------------------------------------------------------

    def running_pid(self) -> int | None:
        """Our sshd: the one this server started or adopted, else the one its pid file names
        (an earlier plane's), if that is this binary with this config. The pid file is
        written again when it does not name the sshd this server knows."""
        recorded = self._recorded_pid()
        for pid in (self._pid, recorded):
            if pid is not None and self._is_ours(pid):
                if pid != recorded:
                    atomic_write(self.layout.pid_file, f"{pid}\n", mode=0o644)
                    log.info("sftp.pid_file_restored", pid=pid)
                self._pid = pid
                return pid
        return None

    def _recorded_pid(self) -> int | None:
        with contextlib.suppress(FileNotFoundError, ValueError):
            return int(self.layout.pid_file.read_text().strip())
        return None

    def _is_ours(self, pid: int) -> bool:
        """This sshd binary (/proc/<pid>/exe) with this config in its command line (sshd
        rewrites its title, "sshd: /usr/sbin/sshd -D -f <config> ... [listener]", so the
        config is looked for in the whole line)."""
        argv = command_line(pid) or []
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            return False
        binary = os.path.realpath(self.config.binary)
        return exe == binary and f"-f {self.layout.config}" in " ".join(argv)

    def start(self, timeout: float = 10.0) -> None:
        """Adopt our running sshd or start one (the config must be applied); keep it running."""
        with self.locked():  # another process starting at once adopts this one's sshd
            self._ensure_running(timeout)
        self._stop.clear()
        self._watcher = threading.Thread(target=self._watch, name="sftp-watch", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        """Stop watching; sshd keeps serving and the next start adopts it."""
        self._stop.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout=5)
        self._watcher = None

    def terminate(self) -> None:
        self.stop()
        pid = self.running_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if self._proc is not None and self._proc.pid == pid:
                self._proc.wait(timeout=10)
        self._pid = None
        self.layout.pid_file.unlink(missing_ok=True)

    def _ensure_running(self, timeout: float) -> None:
        if not self.layout.config.exists():
            raise PermanentError("the SFTP server has no config yet: apply the state first")
        pid = self.running_pid()
        if pid is not None:
            log.info("sftp.adopted", pid=pid, port=self.config.port)
            return
        _check_free(self.config.bind, self.config.port)
        proc = self._spawn()
        try:
            self._wait_ready(timeout)
        except PermanentError:
            # Not serving: ended, so that no sshd runs that the pid file does not name.
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            self._proc = self._pid = None
            self.layout.pid_file.unlink(missing_ok=True)
            raise

    def _spawn(self) -> subprocess.Popen[bytes]:
        argv = [self.config.binary, "-D", "-f", str(self.layout.config), "-E", str(self.layout.log)]
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # not in the control plane's process group
        )
        # Recorded at once: a plane killed before it serves leaves it to the next to adopt.
        self._pid = self._proc.pid
        atomic_write(self.layout.pid_file, f"{self._proc.pid}\n", mode=0o644)
        log.info("sftp.started", pid=self._proc.pid, port=self.config.port)
        return self._proc

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        host = "127.0.0.1" if self.config.bind in ("0.0.0.0", "::") else self.config.bind
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                break
            with (
                contextlib.suppress(OSError),
                socket.create_connection((host, self.config.port), 0.5) as s,
            ):
                if s.recv(4).startswith(b"SSH-"):
                    return
            time.sleep(0.05)
        tail = self.layout.log.read_text()[-1500:] if self.layout.log.exists() else ""
        raise PermanentError("the SFTP server (sshd) did not start", detail=tail)

    def _watch(self) -> None:
        while not self._stop.is_set():
            if self._proc is not None and self._proc.poll() is not None:
                self._proc = None
            pid = self.running_pid()
            if pid is not None:
                self._until_exit(pid)
                continue
            if self._stop.wait(GONE_RECHECK) or self.running_pid() is not None:
                continue
            with self.locked():  # not while a reload is sent, nor another process starts it
                if self._stop.is_set() or self.running_pid() is not None:
                    continue
                log.warning(
                    "sftp.exited",
                    log=self.layout.log.read_text()[-300:] if self.layout.log.exists() else "",
                )
                try:
                    self._ensure_running(10.0)
                except Exception as exc:  # keep watching; the next round tries again
                    log.error("sftp.restart_failed", error=str(exc))

    def _until_exit(self, pid: int) -> None:
        """Until sshd `pid` exits or watching stops: its pidfd turns readable when it exits,
        our child or not, so the watch costs nothing while it runs (reading /proc each round
        did: most of an idle plane's SFTP share)."""
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:  # gone already; looked for again after a pause, never in a tight loop
            self._stop.wait(WATCH_INTERVAL)
            return
        try:
            while not self._stop.is_set():
                if select.select([pidfd], [], [], WATCH_INTERVAL)[0]:
                    return
        finally:
            os.close(pidfd)


def _check_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ForeignResourceError(
                    f"{host}:{port} (Hostplane's SFTP server) is in use by another process, not "
                    "this control plane's sshd: stop it or set HOSTPLANE_SFTP_PORT to a free port"
                ) from None
            raise PermanentError(f"{host}:{port} (SFTP) cannot be bound: {exc.strerror}") from None
