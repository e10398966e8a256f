"""The HAProxy that Hostplane runs in front of its Caddy when HOSTPLANE_EDGE_FRONT=haproxy.

Started as root with a cleared environment, it reads its config, maps and certificates and
binds the edge's ports, then drops to the edge user for good (`uid`/`gid` in its global
section): from then on it holds no privilege, and Caddy behind is reached on a unix socket
only that user opens. Its config names no site (frontend.py) and is checked with
`haproxy -c` before it is put in place. Like the managed Caddy it outlives the control
plane: a new `hostctl up` adopts the HAProxy it left once it has proved it is the one it
started (pid file, /proc, the runtime socket's peer credentials) and that it runs the
config this release renders; else it is replaced. The control plane watches it and starts
it again if it dies.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from hostplane.providers.base import Outcome, PermanentError, TemporaryError
from hostplane.providers.caddy import admin, identity
from hostplane.providers.fs import atomic_write
from hostplane.providers.haproxy.frontend import FrontendConfig, render_frontend
from hostplane.providers.haproxy.layout import FrontLayout
from hostplane.providers.haproxy.runtime import RuntimeHostMap
from hostplane.providers.local import users
from hostplane.providers.supervision import Supervised, end, locked

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class FrontProcessConfig:
    binary: str
    layout: FrontLayout
    frontend: FrontendConfig  # its paths in `layout`; uid and gid are filled in here
    user: str  # the edge user, whom HAProxy runs as once it has started
    edge_dir: Path  # that user's home (made with it when it is missing)
    ports: tuple[tuple[str, int, str], ...] = ()  # (host, port, setting) a new one binds


def runs_config(pid: int, exe: Path, config: Path) -> str | None:
    """None when `pid` is `exe -db -f <config>` (a config in the control plane's private
    directory: none but ours runs it); else why not."""
    try:
        running = os.readlink(f"/proc/{pid}/exe")
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return f"no process {pid} is running"
    if Path(running) != exe:
        return f"its program is {running}, not {exe}"
    args = [a.decode(errors="replace") for a in argv if a]
    if args[1:] != ["-db", "-f", str(config)]:
        return f"it was not started as `haproxy -db -f {config}`: {' '.join(args)[:200]}"
    return None


def why_not_ours(pid: int, exe: Path, config: Path, socket: Path) -> str | None:
    """None when `pid` runs our config and serves the runtime socket itself."""
    reason = runs_config(pid, exe, config)
    if reason is not None:
        return reason
    try:
        peer = admin.peer(str(socket))[0]
    except OSError as exc:
        return f"nothing answers on {socket}: {exc.strerror or exc}"
    return None if peer == pid else f"{socket} is served by pid {peer}, not by {pid}"


class HaproxyProcess:
    def __init__(self, config: FrontProcessConfig) -> None:
        self.config = config
        self.layout = config.layout
        self.process = Supervised("haproxy", config.layout.log)

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def start(self, on_restart: Callable[[], None] | None = None, timeout: float = 15.0) -> Outcome:
        """Adopt the HAProxy this control plane left running (UNCHANGED), replace it when
        its config changed (UPDATED) or start one (CREATED); with `on_restart`, watch it and
        start it again (then call `on_restart`) if it dies."""
        outcome = self._adopt_or_spawn(timeout)
        if on_restart is not None:

            def restart() -> None:
                self._adopt_or_spawn(timeout)
                on_restart()

            self.process.keep_running(restart)
        return outcome

    def _adopt_or_spawn(self, timeout: float) -> Outcome:
        exe, text = self._prepare()
        layout = self.layout
        with locked(layout.lock):
            pid = self._pid_from_file()
            ours = pid is not None and runs_config(pid, exe, layout.config) is None
            reason = "no pid file" if pid is None else why_not_ours(pid, exe, *self._ids())
            if pid is not None and reason is None and not self._answers(pid):
                reason = "it does not answer on its runtime socket"
            same = layout.config.exists() and layout.config.read_text() == text
            if pid is not None and reason is None and same:
                self.process.watch(pid)
                if why_not_ours(pid, exe, *self._ids()) is not None:
                    self.process.close()  # the pid was reused between the check and the pidfd
                    raise TemporaryError(f"the front's process {pid} changed while adopted")
                log.info("haproxy.adopted", pid=pid, socket=str(layout.socket))
                return Outcome.UNCHANGED
            self._check(text)  # before the running one (if any) is touched
            replaced = pid is not None and ours
            if replaced and pid is not None:  # ours, but changed or deaf: replaced
                log.info("haproxy.replacing", pid=pid, reason=reason or "its config changed")
                end(pid)
            elif pid is not None:
                log.info("haproxy.not_adopted", pid=pid, reason=reason)
            os.replace(self._candidate, layout.config)
            self._spawn(exe, timeout)
            return Outcome.UPDATED if replaced else Outcome.CREATED

    def _ids(self) -> tuple[Path, Path]:
        return self.layout.config, self.layout.socket

    @property
    def _candidate(self) -> Path:
        return self.layout.root / "haproxy.cfg.new"

    def _prepare(self) -> tuple[Path, str]:
        cfg = self.config
        if os.geteuid() != 0:
            raise PermanentError(
                "the managed HAProxy starts as root (to bind the edge's ports and read its "
                "certificates) and drops to the edge user: run hostctl up as root"
            )
        found = shutil.which(cfg.binary)
        if found is None:
            raise PermanentError(
                f"the HAProxy binary {cfg.binary!r} was not found: install Debian's haproxy "
                "package, or set HOSTPLANE_EDGE_FRONT=caddy"
            )
        users.ensure_service_user(cfg.user, cfg.edge_dir, "Caddy web server (Hostplane edge)")
        uid, gid = users.ids(cfg.user)
        self.layout.prepare()
        self.layout.socket.parent.mkdir(parents=True, exist_ok=True)
        frontend = dataclasses.replace(cfg.frontend, uid=uid, gid=gid)
        return Path(found).resolve(), render_frontend(frontend)

    def _pid_from_file(self) -> int | None:
        try:
            return int(self.layout.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _check(self, text: str) -> None:
        """`haproxy -c` on the config beside the one in force; PermanentError with its
        answer when it is refused (the one in force, and the running HAProxy, stay)."""
        atomic_write(self._candidate, text, mode=0o600)
        checked = subprocess.run(
            [self.config.binary, "-c", "-f", str(self._candidate)],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env=_env(),
            timeout=60,
            check=False,
        )
        if checked.returncode != 0:
            raise PermanentError(
                "HAProxy refused the generated config; the one in force stays",
                detail=(checked.stdout + checked.stderr).strip()[-2000:],
            )

    def _spawn(self, exe: Path, timeout: float) -> None:
        layout = self.layout
        holder = identity.socket_holder(layout.socket)
        if holder is not None:
            raise PermanentError(
                f"unix/{layout.socket} is already served by another process (pid {holder[0]}) "
                "that this control plane did not start: stop it, or give this control plane "
                "another HOSTPLANE_RUN_DIR"
            )
        for host, port, setting in self.config.ports:
            identity.check_port_free(host, port, setting)
        argv = [str(exe), "-db", "-f", str(layout.config)]
        pid = self.process.spawn(argv, env=_env(), cwd=layout.root, pid_file=layout.pid_file)
        self._wait_ready(timeout)
        log.info("haproxy.started", pid=pid, user=self.config.user)

    def _answers(self, pid: int) -> bool:
        """`pid` serves the runtime socket and answers on it (a stopped one does not)."""
        api = RuntimeHostMap(self.layout.socket, self.layout.hosts_map, timeout=2.0)
        try:
            ours = admin.peer(str(self.layout.socket))[0] == pid
            return ours and f"Pid: {pid}" in api.call("show info")
        except (OSError, TemporaryError):
            return False

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.process.exited():
            if self.pid is not None and self._answers(self.pid):
                return
            time.sleep(0.05)
        tail = self.process.log_tail()
        self.process.end()
        raise PermanentError("HAProxy did not start", detail=tail)

    def detach(self) -> None:
        """Stop watching; HAProxy keeps serving, for the next start to adopt."""
        self.process.detach()

    def stop(self) -> None:
        """Stop watching and stop HAProxy (SIGTERM, then SIGKILL after 10 s)."""
        self.process.stop_watching()
        self.process.end()
        self.layout.pid_file.unlink(missing_ok=True)


def _env() -> dict[str, str]:
    """Only what HAProxy needs: never the control plane's own settings or secrets."""
    return {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}


def end_left(layout: FrontLayout, binary: str) -> bool:
    """End the HAProxy of ours that a start with the HAProxy front left running (the edge's
    front is Caddy again, which needs the ports); True when there was one."""
    try:
        pid = int(layout.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return False
    found = shutil.which(binary)
    if found is None or runs_config(pid, Path(found).resolve(), layout.config) is not None:
        return False
    log.info("haproxy.ending_left", pid=pid, reason="the edge's front is caddy")
    end(pid)
    layout.pid_file.unlink(missing_ok=True)
    return True
