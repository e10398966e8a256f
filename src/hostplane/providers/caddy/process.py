"""The Caddy that Hostplane runs as the edge when no external one is given.

It runs as its own user (Debian's `caddy`) with only the capability to bind low ports, its
environment cleared and its admin API on a unix socket in a directory only root and that user
enter. It outlives the control plane: a new `hostctl up` adopts the Caddy it left — once it has
proved it is the one it started (pid file, /proc, the socket's peer credentials) — so sites
never go dark across a restart. The control plane watches it and starts it again if it dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import structlog

from hostplane.providers.base import Outcome, PermanentError
from hostplane.providers.caddy import admin, identity
from hostplane.providers.fs import atomic_write, ensure_dir, private_dir
from hostplane.providers.local import users

log = structlog.get_logger(__name__)

LAST_GOOD = "caddy-last-good.json"
LEGACY_BOOT = "caddy-boot.json"  # where a root Caddy of older releases was started from
CAPS = "-all,+net_bind_service"


@dataclass(frozen=True, slots=True)
class EdgeProcessConfig:
    binary: str
    state_dir: Path  # the control plane's own (0700): pid file, log, last config that loaded
    edge_dir: Path  # the edge user's own (0700): its boot config, Caddy's data and config
    admin_socket: Path  # alone in a directory of the edge user's, 0700
    user: str = "caddy"
    ports: tuple[tuple[str, int, str], ...] = ()  # (host, port, setting) a new Caddy binds


class CaddyProcess:
    def __init__(self, config: EdgeProcessConfig) -> None:
        self.config = config
        self._proc: subprocess.Popen[bytes] | None = None  # set when we started it
        self._pid: int | None = None
        self._pidfd: int | None = None  # readable once the process has exited
        self._expected: identity.Expected | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def admin_url(self) -> str:
        return f"unix://{self.config.admin_socket}"

    @property
    def pid(self) -> int | None:
        return self._pid

    @property
    def pid_file(self) -> Path:
        return self.config.state_dir / "caddy.pid"

    @property
    def boot_file(self) -> Path:
        return self.config.edge_dir / "caddy-boot.json"

    @property
    def log_file(self) -> Path:
        return self.config.state_dir / "caddy.log"

    def start(self, on_restart: Callable[[], None] | None = None, timeout: float = 15.0) -> Outcome:
        """Adopt the Caddy this control plane left running (UNCHANGED) or start one (CREATED);
        with `on_restart`, watch it and start it again (then call `on_restart`) if it dies."""
        outcome = self._adopt_or_spawn(timeout)
        if on_restart is not None:
            self._watcher = threading.Thread(
                target=self._watch, args=(on_restart, timeout), name="caddy-watch", daemon=True
            )
            self._watcher.start()
        return outcome

    def _adopt_or_spawn(self, timeout: float) -> Outcome:
        expected = self._prepare()
        with self._locked():
            pid = self._adoptable(expected)
            if pid is not None:
                self._watch_pid(pid)
                log.info("caddy.adopted", pid=pid, admin=self.admin_url)
                return Outcome.UNCHANGED
            self._spawn(expected, timeout)
            return Outcome.CREATED

    def _prepare(self) -> identity.Expected:
        cfg = self.config
        if os.geteuid() != 0:
            raise PermanentError(
                f"the managed edge runs as user {cfg.user}, which only root can arrange: run "
                "hostctl up as root, or set HOSTPLANE_CADDY_ADMIN_URL to a Caddy of your own"
            )
        found = shutil.which(cfg.binary)
        if found is None:
            raise PermanentError(
                f"the Caddy binary {cfg.binary!r} was not found: install Debian's caddy package"
            )
        users.ensure_service_user(cfg.user, cfg.edge_dir, "Caddy web server (Hostplane edge)")
        owner = users.ids(cfg.user)
        private_dir(cfg.state_dir)
        ensure_dir(cfg.edge_dir, 0o700, owner)
        cfg.admin_socket.parent.parent.mkdir(parents=True, exist_ok=True)
        ensure_dir(cfg.admin_socket.parent, 0o700, owner)
        self._expected = identity.Expected(
            exe=Path(found).resolve(), config=self.boot_file, uid=owner[0], socket=cfg.admin_socket
        )
        return self._expected

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One control plane process at a time decides whether to adopt or start the edge."""
        fd = os.open(self.config.state_dir / "caddy.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _adoptable(self, expected: identity.Expected) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        reason = identity.why_not_ours(pid, expected)
        if reason is None:
            if self._answers():
                return pid
            log.warning("caddy.unresponsive", pid=pid)
            _end(pid)  # ours, proven, but deaf: replaced
            return None
        legacy = self.config.state_dir / LEGACY_BOOT
        if identity.process_is_caddy_of(pid, expected.exe, legacy) is None:
            log.info("caddy.replacing_legacy", pid=pid)  # a root Caddy of an older release
            _end(pid)
            return None
        log.info("caddy.not_adopted", pid=pid, reason=reason)
        return None

    def _answers(self) -> bool:
        try:
            with admin.admin_client(self.admin_url, timeout=2.0) as client:
                return client.get("/config/").status_code == 200
        except httpx.HTTPError:
            return False

    def _spawn(self, expected: identity.Expected, timeout: float) -> None:
        cfg = self.config
        holder = identity.socket_holder(cfg.admin_socket)
        if holder is not None:
            raise PermanentError(
                f"unix/{cfg.admin_socket} is already served by another process (pid "
                f"{holder[0]}, uid {holder[1]}) that this control plane did not start: stop "
                "it, or give this control plane another HOSTPLANE_RUN_DIR"
            )
        for host, port, setting in cfg.ports:
            identity.check_port_free(host, port, setting)
        owner = users.ids(cfg.user)
        atomic_write(self.boot_file, self._boot_config(), mode=0o600, owner=owner)
        log_fd = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            self._proc = subprocess.Popen(
                self._argv(expected, owner),
                stdout=log_fd,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self._env(),
                cwd=cfg.edge_dir,
                umask=0o077,
                start_new_session=True,
            )
        finally:
            os.close(log_fd)
        atomic_write(self.pid_file, str(self._proc.pid), mode=0o600)
        self._watch_pid(self._proc.pid)
        self._wait_ready(timeout)
        log.info("caddy.started", pid=self._proc.pid, user=cfg.user, admin=self.admin_url)

    def _argv(self, expected: identity.Expected, owner: tuple[int, int]) -> list[str]:
        return [
            "setpriv",
            f"--reuid={owner[0]}",
            f"--regid={owner[1]}",
            "--clear-groups",
            f"--inh-caps={CAPS}",
            f"--ambient-caps={CAPS}",
            f"--bounding-set={CAPS}",
            "--no-new-privs",
            str(expected.exe),
            "run",
            "--config",
            str(self.boot_file),
        ]

    def _env(self) -> dict[str, str]:
        """Only what Caddy needs: never the control plane's own settings or secrets."""
        home = self.config.edge_dir
        return {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_CONFIG_HOME": str(home / "config"),
        }

    def _boot_config(self) -> str:
        """The last config that loaded, so sites are served before the control plane loads
        anything; its admin block is always ours (an older one may name a TCP address)."""
        try:
            config = json.loads((self.config.state_dir / LAST_GOOD).read_text())
        except (FileNotFoundError, ValueError):
            config = {}
        if not isinstance(config, dict):
            config = {}
        listen = admin.listen_address(self.admin_url)
        config["admin"] = {"listen": listen, "config": {"persist": False}}
        return json.dumps(config, sort_keys=True)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._exited():
            with contextlib.suppress(OSError):
                if admin.peer(str(self.config.admin_socket))[0] == self._pid and self._answers():
                    return
            time.sleep(0.05)
        tail = self._log_tail()
        self._end_current()
        raise PermanentError("Caddy did not start", detail=tail)

    def _log_tail(self, lines: int = 8) -> str:
        try:
            return "\n".join(self.log_file.read_text().splitlines()[-lines:])
        except FileNotFoundError:
            return "no log"

    def _watch_pid(self, pid: int) -> None:
        self._close_pidfd()
        self._pid = pid
        self._pidfd = os.pidfd_open(pid)
        adopted = self._proc is None or self._proc.pid != pid
        if adopted and self._expected and identity.why_not_ours(pid, self._expected):
            self._close_pidfd()  # the pid was reused between the check and the pidfd
            raise PermanentError(f"the edge's process {pid} changed while it was adopted")

    def _exited(self) -> bool:
        if self._pidfd is None:
            return True
        ready, _, _ = select.select([self._pidfd], [], [], 0)
        if ready and self._proc is not None:
            self._proc.poll()  # our child: reap it
        return bool(ready)

    def _close_pidfd(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def _watch(self, on_restart: Callable[[], None], timeout: float) -> None:
        while not self._stop.wait(0.2):
            if not self._exited():
                continue
            code = self._proc.returncode if self._proc is not None else None
            log.warning("caddy.exited", pid=self._pid, code=code, log=self._log_tail(3))
            try:
                self._proc = None
                self._adopt_or_spawn(timeout)
                on_restart()
            except Exception as exc:  # keep watching; the next round tries again
                log.error("caddy.restart_failed", error=str(exc))

    def _stop_watching(self) -> None:
        self._stop.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout=5)

    def detach(self) -> None:
        """Stop watching; Caddy keeps serving, for the next start to adopt."""
        self._stop_watching()
        if self._pid is not None and not self._exited():
            log.info("caddy.left_running", pid=self._pid)
        self._close_pidfd()

    def stop(self) -> None:
        """Stop watching and stop Caddy (SIGTERM, then SIGKILL after 10 s)."""
        self._stop_watching()
        self._end_current()
        self.pid_file.unlink(missing_ok=True)

    def _end_current(self) -> None:
        if self._pid is not None and not self._exited() and self._pidfd is not None:
            _end_fd(self._pidfd)
            if self._proc is not None:
                self._proc.poll()
            log.info("caddy.stopped", pid=self._pid)
        self._close_pidfd()
        self._pid = None


def _wait_fd(fd: int, timeout: float) -> bool:
    ready, _, _ = select.select([fd], [], [], timeout)
    return bool(ready)


def _end_fd(fd: int) -> None:
    """SIGTERM the process behind a pidfd; SIGKILL if it outlives 10 s."""
    try:
        signal.pidfd_send_signal(fd, signal.SIGTERM)
        if not _wait_fd(fd, 10.0):
            signal.pidfd_send_signal(fd, signal.SIGKILL)
            _wait_fd(fd, 10.0)
    except ProcessLookupError:
        pass


def _end(pid: int) -> None:
    """End a Caddy of ours that must be replaced."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        _end_fd(fd)
    finally:
        os.close(fd)
