"""The Caddy that Hostplane runs as the edge when no external one is given.

It runs as its own user (Debian's `caddy`) with only the capability to bind low ports, its
environment cleared and its admin API on a unix socket in a directory only root and that user
enter. It outlives the control plane: a new `hostctl up` adopts the Caddy it left — once it has
proved it is the one it started (pid file, /proc, the socket's peer credentials) — so sites
never go dark across a restart. The control plane watches it and starts it again if it dies.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import structlog

from hostplane.providers.base import Outcome, PermanentError
from hostplane.providers.caddy import admin, identity
from hostplane.providers.fs import atomic_write, ensure_dir, private_dir
from hostplane.providers.local import users
from hostplane.providers.supervision import Supervised, end, locked

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
        self.process = Supervised("caddy", config.state_dir / "caddy.log")
        self._expected: identity.Expected | None = None

    @property
    def admin_url(self) -> str:
        return f"unix://{self.config.admin_socket}"

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def pid_file(self) -> Path:
        return self.config.state_dir / "caddy.pid"

    @property
    def boot_file(self) -> Path:
        return self.config.edge_dir / "caddy-boot.json"

    @property
    def log_file(self) -> Path:
        return self.process.log_file

    def start(self, on_restart: Callable[[], None] | None = None, timeout: float = 15.0) -> Outcome:
        """Adopt the Caddy this control plane left running (UNCHANGED) or start one (CREATED);
        with `on_restart`, watch it and start it again (then call `on_restart`) if it dies."""
        outcome = self._adopt_or_spawn(timeout)
        if on_restart is not None:

            def restart() -> None:
                self._adopt_or_spawn(timeout)
                on_restart()

            self.process.keep_running(restart)
        return outcome

    def _adopt_or_spawn(self, timeout: float) -> Outcome:
        expected = self._prepare()
        with locked(self.config.state_dir / "caddy.lock"):
            pid = self._adoptable(expected)
            if pid is not None:
                self.process.watch(pid)
                if identity.why_not_ours(pid, expected):
                    self.process.close()  # the pid was reused between the check and the pidfd
                    raise PermanentError(f"the edge's process {pid} changed while it was adopted")
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
            end(pid)  # ours, proven, but deaf: replaced
            return None
        legacy = self.config.state_dir / LEGACY_BOOT
        if identity.process_is_caddy_of(pid, expected.exe, legacy) is None:
            log.info("caddy.replacing_legacy", pid=pid)  # a root Caddy of an older release
            end(pid)
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
        argv, env = self._argv(expected, owner), self._env()
        pid = self.process.spawn(argv, env=env, cwd=cfg.edge_dir, pid_file=self.pid_file)
        self._wait_ready(timeout)
        log.info("caddy.started", pid=pid, user=cfg.user, admin=self.admin_url)

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
        while time.monotonic() < deadline and not self.process.exited():
            with contextlib.suppress(OSError):
                if admin.peer(str(self.config.admin_socket))[0] == self.pid and self._answers():
                    return
            time.sleep(0.05)
        tail = self.process.log_tail()
        self.process.end()
        raise PermanentError("Caddy did not start", detail=tail)

    def detach(self) -> None:
        """Stop watching; Caddy keeps serving, for the next start to adopt."""
        self.process.detach()

    def stop(self) -> None:
        """Stop watching and stop Caddy (SIGTERM, then SIGKILL after 10 s)."""
        self.process.stop_watching()
        self.process.end()
        self.pid_file.unlink(missing_ok=True)
