"""The PowerDNS Hostplane runs itself when no server is configured: one `pdns_server` with the
gsqlite3 backend in the data directory (files.py), restarted when it dies and adopted again by
a restarted control plane. It outlives the control plane (sites' DNS must not drop while the
plane restarts): `stop()` stops watching it, `terminate()` stops it.

What is adopted is checked: the pid in server.pid must be a live pdns_server whose command line
names this config directory. Anything else on the API or DNS addresses is a stranger: start-up
fails naming the address, and nothing of it is touched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import time
from pathlib import Path

import httpx
import structlog

from hostplane.errors import ForeignResourceError, PermanentError
from hostplane.providers import http_clients
from hostplane.providers.fs import atomic_write
from hostplane.providers.powerdns import dnsprobe, files
from hostplane.providers.powerdns.client import API_PATH
from hostplane.providers.powerdns.files import Layout, PdnsConfig
from hostplane.providers.supervision import Supervised, end

log = structlog.get_logger(__name__)

WATCH_INTERVAL = 0.5


def command_line(pid: int) -> list[str] | None:
    """The argv of a live, not zombie, process; None when there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    if stat.rpartition(")")[2].split()[:1] == ["Z"]:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


class PdnsProcess:
    def __init__(self, config: PdnsConfig) -> None:
        self.config = config
        self.layout = Layout(config.root)
        self.process = Supervised("powerdns", self.layout.log, interval=WATCH_INTERVAL)

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def api_url(self) -> str:
        return self.config.api_url

    @property
    def api_key(self) -> str:
        return files.api_key(self.config.root)

    def start(self, timeout: float = 20.0) -> None:
        """Adopt our running server or start one; then keep it running."""
        self._ensure_running(timeout)
        self.process.keep_running(lambda: self._ensure_running(timeout))

    def stop(self) -> None:
        """Stop watching. PowerDNS keeps serving; the next start adopts it."""
        self.process.detach()

    def terminate(self) -> None:
        """Stop watching and stop the server (SIGTERM, SIGKILL after 10 s)."""
        self.process.stop_watching()
        self._end_ours()

    def _end_ours(self) -> None:
        if self.process.pid is not None and not self.process.exited():
            self.process.end()
        elif (pid := self._ours_running()) is not None:
            end(pid)
        self.process.close()
        self.layout.pid_file.unlink(missing_ok=True)

    # Start-up ------------------------------------------------------------

    def _ensure_running(self, timeout: float) -> None:
        self.config.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        with files.locked(self.layout.lock):
            key = files.api_key(self.config.root)
            changed = files.prepare(self.config, key)
            pid = self._ours_running()
            if pid is not None and not changed:
                self.process.watch(pid)
                if not self._is_ours(pid):
                    self.process.close()  # the pid was reused between the check and the pidfd
                    raise PermanentError(f"PowerDNS's process {pid} changed while adopted")
                log.info("powerdns.adopted", pid=pid, api=self.api_url)
            else:
                if pid is not None:
                    log.info("powerdns.replacing", pid=pid, reason="its config changed")
                    end(pid)
                self._refuse_strangers()
                self._spawn()
            self._wait_ready(key, timeout)

    def _ours_running(self) -> int | None:
        """Our server: the pid in server.pid if it is ours, else one found in /proc (a pid
        file lost or left stale)."""
        with contextlib.suppress(FileNotFoundError, ValueError):
            pid = int(self.layout.pid_file.read_text().strip())
            if self._is_ours(pid):
                return pid
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and self._is_ours(int(entry.name)):
                atomic_write(self.layout.pid_file, f"{entry.name}\n")
                return int(entry.name)
        return None

    def _is_ours(self, pid: int) -> bool:
        argv = command_line(pid)
        if not argv:
            return False
        binary = os.path.basename(self.config.binary)
        return (
            os.path.basename(argv[0]) == binary and f"--config-dir={self.config.root}" in argv[1:]
        )

    def _refuse_strangers(self) -> None:
        """Nothing else may hold our addresses: it would answer in our server's place."""
        config = self.config
        taken = [(config.api_host, config.api_port, socket.SOCK_STREAM, "API")]
        for address in config.dns_addresses:
            taken += [
                (address, config.dns_port, socket.SOCK_DGRAM, "DNS (UDP)"),
                (address, config.dns_port, socket.SOCK_STREAM, "DNS (TCP)"),
            ]
        for host, port, kind, what in taken:
            _check_free(host, port, kind, what)

    def _spawn(self) -> None:
        argv = [self.config.binary, f"--config-dir={self.config.root}"]
        try:
            pid = self.process.spawn(
                argv, env=_env(), cwd=self.config.root, pid_file=self.layout.pid_file
            )
        except FileNotFoundError:
            raise PermanentError(
                f"the PowerDNS binary {self.config.binary!r} was not found: install "
                "Debian's pdns-server and pdns-backend-sqlite3 (`make install`)"
            ) from None
        log.info(
            "powerdns.started",
            pid=pid,
            api=self.api_url,
            dns=f"{','.join(self.config.dns_addresses)}:{self.config.dns_port}",
        )

    def _wait_ready(self, key: str, timeout: float) -> None:
        """The API answers with our key and the DNS port answers; else the log says why."""
        dns_host = dnsprobe.reachable_address(self.config.dns_addresses[0])
        deadline = time.monotonic() + timeout
        with http_clients.client(timeout=1.0, headers={"X-API-Key": key}) as api:
            while time.monotonic() < deadline and not self.process.exited():
                if _api_answers(api, self.api_url + API_PATH) and dnsprobe.answers(
                    dns_host, self.config.dns_port
                ):
                    return
                time.sleep(0.05)
        died = self.process.exited()
        tail = self.process.log_tail()
        if self.process.proc is not None:  # one we started now: not left half-started
            self.process.end()
            self.layout.pid_file.unlink(missing_ok=True)
        raise PermanentError(
            "PowerDNS exited while starting" if died else f"PowerDNS was not ready in {timeout} s",
            detail=tail,
        )


def _env() -> dict[str, str]:
    """Only what PowerDNS needs: never the control plane's own settings or secrets."""
    return {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}


def _api_answers(api: httpx.Client, url: str) -> bool:
    try:
        return api.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def _check_free(host: str, port: int, kind: socket.SocketKind, what: str) -> None:
    """Nothing listens there. TCP is asked by connecting: a bind test would also fail on the
    TIME_WAIT connections our own server left a moment ago (the kernel refuses to reuse
    them unless both sockets asked for it). UDP has no such state: a bind test is exact."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as probe:
        if kind == socket.SOCK_STREAM:
            probe.settimeout(1.0)
            if probe.connect_ex((host, port)) == 0:
                raise _bind_error(OSError(errno.EADDRINUSE, "listening"), host, port, what)
            _check_bindable(host, port, family, what)
            return
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise _bind_error(exc, host, port, what) from None


def _check_bindable(host: str, port: int, family: socket.AddressFamily, what: str) -> None:
    """An address this host has, a port we may bind (EADDRINUSE from TIME_WAIT is fine)."""
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise _bind_error(exc, host, port, what) from None


def _bind_error(exc: OSError, host: str, port: int, what: str) -> Exception:
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return ForeignResourceError(
            f"{address} ({what} of Hostplane's PowerDNS) is in use by another process, not "
            "this control plane's PowerDNS: stop it, give Hostplane free ports "
            "(HOSTPLANE_DNS_PORT, HOSTPLANE_PDNS_API_LISTEN), or use that server "
            "(HOSTPLANE_PDNS_API_URL and HOSTPLANE_PDNS_API_KEY)"
        )
    if exc.errno == errno.EACCES:
        return PermanentError(
            f"{address} ({what}) needs root to bind a port below 1024: run the worker as "
            "root or set HOSTPLANE_DNS_PORT above 1023"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return PermanentError(
            f"{host} is not an address of this host: set HOSTPLANE_DNS_BIND to one of its "
            "addresses (or 0.0.0.0)"
        )
    return PermanentError(f"{address} ({what}) cannot be bound: {exc.strerror}")
