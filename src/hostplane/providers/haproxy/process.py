"""The HAProxy that Hostplane runs in front of its Caddy when HOSTPLANE_EDGE_FRONT=haproxy.

Started as root with a cleared environment, it reads its config, maps and certificates and
binds the edge's ports, then drops to the edge user for good (`uid`/`gid` in its global
section): from then on it holds no privilege, and Caddy behind is reached on a unix socket
only that user opens. Its config names no site (frontend.py) and is checked with
`haproxy -c` before it is put in place. Like the managed Caddy it outlives the control
plane: a new `hostctl up` adopts the HAProxy it left once it has proved it is the one it
started (pid file, /proc, the runtime socket's peer credentials) and that it runs the
config this release renders. A changed config is reloaded the way HAProxy means it to be: a
new one takes the listening sockets from the running one through its runtime socket (`-x`)
and tells it to finish its connections and exit (`-sf`), so no visitor is refused and no
request in flight is cut. A running one that is not ours or does not answer is ended first
instead. The control plane watches it and starts it again if it dies.
"""

from __future__ import annotations

import dataclasses
import os
import select
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from hostplane.providers.base import Outcome, PermanentError, TemporaryError
from hostplane.providers.caddy import admin, identity
from hostplane.providers.fs import atomic_write
from hostplane.providers.haproxy import listeners
from hostplane.providers.haproxy.frontend import HARD_STOP_AFTER, FrontendConfig, render_frontend
from hostplane.providers.haproxy.layout import FrontLayout
from hostplane.providers.haproxy.runtime import RuntimeHostMap
from hostplane.providers.local import users
from hostplane.providers.supervision import Supervised, end, end_fd, locked

log = structlog.get_logger(__name__)

DRAIN_GRACE = 5.0  # beyond its hard-stop-after, before a reloaded-away HAProxy is ended


@dataclass(frozen=True, slots=True)
class FrontProcessConfig:
    binary: str
    layout: FrontLayout
    frontend: FrontendConfig  # its paths in `layout`; uid and gid are filled in here
    user: str  # the edge user, whom HAProxy runs as once it has started
    edge_dir: Path  # that user's home (made with it when it is missing)
    ports: tuple[tuple[str, int, str], ...] = ()  # (host, port, setting) a new one binds


def runs_config(pid: int, exe: Path, config: Path, socket: Path) -> str | None:
    """None when `pid` is `exe -db -f <config>`, or that reloading an older one (`-x <socket>
    -sf <pid>`): a config in the control plane's private directory, none but ours runs it;
    else why not."""
    try:
        running = os.readlink(f"/proc/{pid}/exe")
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return f"no process {pid} is running"
    if Path(running) != exe:
        return f"its program is {running}, not {exe}"
    args = [a.decode(errors="replace") for a in argv if a]
    if not started_as_ours(args[1:], config, socket):
        return f"it was not started as `haproxy -db -f {config}`: {' '.join(args)[:200]}"
    return None


def started_as_ours(args: list[str], config: Path, socket: Path) -> bool:
    """Whether these arguments (after the program's) are how this module starts HAProxy:
    `-db -f <config>`, and `-x <socket> -sf <pid>` after them for a reload. Pure."""
    started = ["-db", "-f", str(config)]
    reload = args[3:5] == ["-x", str(socket)] and args[5:6] == ["-sf"]
    return args[:3] == started and (
        len(args) == 3 or (len(args) == 7 and reload and args[6].isdigit())
    )


def why_not_ours(pid: int, exe: Path, config: Path, socket: Path) -> str | None:
    """None when `pid` runs our config and serves the runtime socket itself (it holds the
    socket listening there: one it took over by a reload has its first holder's credentials)."""
    reason = runs_config(pid, exe, config, socket)
    if reason is not None:
        return reason
    if listeners.holds_unix_listener(pid, socket):
        return None
    try:
        peer = admin.peer(str(socket))[0]
    except OSError as exc:
        return f"nothing answers on {socket}: {exc.strerror or exc}"
    return f"{socket} is served by pid {peer}, not by {pid}"


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
            ours = pid is not None and runs_config(pid, exe, *self._ids()) is None
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
            if pid is not None and reason is None:  # ours, answering, its config changed
                log.info("haproxy.reloading", pid=pid)
                self._reload(exe, pid, timeout)
                return Outcome.UPDATED
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
        exe = haproxy_exe(cfg.binary)
        users.ensure_service_user(cfg.user, cfg.edge_dir, "Caddy web server (Hostplane edge)")
        uid, gid = users.ids(cfg.user)
        self.layout.prepare()
        self.layout.socket.parent.mkdir(parents=True, exist_ok=True)
        frontend = dataclasses.replace(cfg.frontend, uid=uid, gid=gid)
        return exe, render_frontend(frontend)

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

    def _reload(self, exe: Path, old: int, timeout: float) -> None:
        """Start a new HAProxy that takes the listening sockets of `old` (ours, answering) and
        tells it to finish its connections and exit; once the new one answers, `old` is given
        until its hard-stop-after (and a little more) to exit, then ended. When the new one
        fails, `old` (if it still runs) stays in force with its config."""
        layout = self.layout
        for host, port, setting in self.config.ports:
            try:
                identity.check_port_free(host, port, setting)
            except PermanentError:
                if not listeners.holds_tcp_port(old, port):
                    raise  # a stranger's, not the one being replaced
        in_force = layout.config.read_text() if layout.config.exists() else None
        os.replace(self._candidate, layout.config)
        held = self.process.proc
        old_proc = held if held is not None and held.pid == old else None
        old_fd = os.pidfd_open(old)
        argv = [str(exe), "-db", "-f", str(layout.config), "-x", str(layout.socket)]
        try:
            pid = self.process.spawn(
                [*argv, "-sf", str(old)], env=_env(), cwd=layout.root, pid_file=layout.pid_file
            )
            self._wait_ready(timeout)
        except BaseException:
            if not select.select([old_fd], [], [], 0)[0]:  # the old one serves on: keep it
                if in_force is not None:
                    atomic_write(layout.config, in_force, mode=0o600)
                atomic_write(layout.pid_file, f"{old}\n", mode=0o600)
                self.process.watch(old)
                self.process.proc = old_proc
            os.close(old_fd)
            raise
        log.info("haproxy.reloaded", pid=pid, replaced=old)
        threading.Thread(
            target=_drained, args=(old_fd, old_proc), name="haproxy-drain", daemon=True
        ).start()

    def _answers(self, pid: int) -> bool:
        """`pid` serves the runtime socket and answers on it (a stopped one does not)."""
        api = RuntimeHostMap(self.layout.socket, self.layout.hosts_map, timeout=2.0)
        try:
            ours = listeners.holds_unix_listener(pid, self.layout.socket)
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


def _drained(fd: int, proc: subprocess.Popen[bytes] | None) -> None:
    """Wait for a reloaded-away HAProxy to exit by itself; end it if it outlives its
    hard-stop-after by DRAIN_GRACE seconds."""
    try:
        if not select.select([fd], [], [], HARD_STOP_AFTER + DRAIN_GRACE)[0]:
            log.warning("haproxy.drain_overdue", after=HARD_STOP_AFTER + DRAIN_GRACE)
            end_fd(fd)
        if proc is not None:
            proc.wait(timeout=5)  # our child: reaped
    finally:
        os.close(fd)


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
    exe = Path(found).resolve() if found is not None else None
    if exe is None or runs_config(pid, exe, layout.config, layout.socket) is not None:
        return False
    log.info("haproxy.ending_left", pid=pid, reason="the edge's front is caddy")
    end(pid)
    layout.pid_file.unlink(missing_ok=True)
    return True


def haproxy_exe(binary: str) -> Path:
    found = shutil.which(binary)
    if found is None:
        raise PermanentError(
            f"the HAProxy binary {binary!r} was not found: install Debian's haproxy "
            "package (make install), or set HOSTPLANE_EDGE_FRONT=caddy"
        )
    return Path(found).resolve()


def check_before_behind(
    binary: str, ports: tuple[tuple[str, int, str], ...], pid_files: tuple[Path, ...]
) -> None:
    """Before Caddy is started (or moved) behind the front, what would stop the front's start
    once Caddy has left the edge's ports: no HAProxy binary (a plane upgraded to the haproxy
    default without `make install`), or a port held by a stranger. Each port must be free or
    held by a process of this plane's (the pid in one of `pid_files`: the HAProxy to adopt,
    or the Caddy that was the edge and moves behind). The front's own start checks again."""
    haproxy_exe(binary)
    ours = []
    for pid_file in pid_files:
        try:
            ours.append(int(pid_file.read_text().strip()))
        except (FileNotFoundError, ValueError):
            continue
    for host, port, setting in ports:
        try:
            identity.check_port_free(host, port, setting)
        except PermanentError:
            if not any(listeners.holds_tcp_port(pid, port) for pid in ours):
                raise
