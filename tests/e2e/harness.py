"""A real control plane in a subprocess (`hostctl up`), and a proxy that breaks Caddy's admin API
on demand — the test's way to make the edge stall or refuse, in front of a real Caddy."""

from __future__ import annotations

import atexit
import contextlib
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from hostplane import failpoints
from hostplane.providers.caddy.admin import admin_client
from hostplane.providers.haproxy.layout import FrontLayout
from hostplane.providers.haproxy.runtime import RuntimeHostMap
from hostplane.providers.local.runtime import SITES_FOLDER
from tests import leftovers
from tests.services import free_port, terminate

REPO = Path(__file__).resolve().parents[2]
HOSTCTL = str(Path(sys.executable).parent / "hostctl")


def wait_for(predicate: Callable[[], object], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def wait_gone(pid: int, what: str, timeout: float = 20) -> None:
    """Until `pid` has exited (a zombie nobody reaps counts as exited)."""

    def gone() -> bool:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return True
        return stat.rpartition(")")[2].split()[0] == "Z"

    wait_for(gone, what, timeout)


def host_tmpdir(prefix: str = "hostplane-host-") -> Path:
    """A directory for what sites' users and the edge must reach (webroots, sockets, the
    edge's state), 0755 like /srv and /run on a real host, removed when the tests end.

    Not under pytest's temporary directory: every pytest session that starts (another
    worktree's, say) makes /tmp/pytest-of-<user> 0700 again, which would lock them out."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    leftovers.claim(path)  # a later run clears what is left here if this one is killed
    atexit.register(_remove_host_dir, path)
    return path


def _remove_host_dir(path: Path) -> None:
    """At the end of the tests: an edge still running from `path` (a test that never reached
    its teardown) is stopped before its directory goes, so none is left serving."""
    boot = f"{path}/edge/caddy-boot.json".encode()
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError):
            if proc.name.isdigit() and boot in (proc / "cmdline").read_bytes():
                os.kill(int(proc.name), signal.SIGTERM)
    shutil.rmtree(path, ignore_errors=True)


def host_rootdir(prefix: str = "hostplane-test-") -> Path:
    """A directory for tenants' homes and the SFTP server's files: OpenSSH wants a chroot and
    its keys files under directories that only root can write, which /tmp is not."""
    base = Path("/srv/hostplane-test")
    base.mkdir(mode=0o755, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    path.chmod(0o755)
    leftovers.claim(path)  # a later run clears what is left here if this one is killed
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


# Every control plane made, for the clean-up at the end of each test module (tests/conftest.py).
PLANES: list[ControlPlane] = []


@dataclass
class ControlPlane:
    """`data_dir` is made 0700, as the control plane makes it; what sites and the edge must
    reach (webroots, sockets, the edge's own state) lives in a `host_dir` of its own, the
    only tree open to other users (each control plane has its own)."""

    data_dir: Path
    database_url: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    api_port: int = field(default_factory=free_port)
    edge_port: int = field(default_factory=free_port)
    https_port: int = field(default_factory=free_port)
    dns_port: int = field(default_factory=free_port)  # its PowerDNS's, UDP and TCP
    pdns_api_port: int = field(default_factory=free_port)
    command: str = "up"  # or "api": API only, operations wait in the queue for a worker
    proc: subprocess.Popen[bytes] | None = None
    host_dir: Path = field(default_factory=host_tmpdir)
    root_dir: Path = field(default_factory=host_rootdir)
    sftp_port: int = field(default_factory=free_port)
    # Owned by a fixture wider than a module (its teardown stops it): left out of PLANES, whose
    # planes are stopped when their module ends.
    shared: bool = False

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __post_init__(self) -> None:
        if not self.shared:
            PLANES.append(self)  # stopped and cleaned at the end of its test module (conftest)

    @property
    def homes_dir(self) -> Path:
        return self.root_dir / "tenants"

    @property
    def sftp_dir(self) -> Path:
        return self.root_dir / "sftp"

    @property
    def caches_dir(self) -> Path:
        """Its cache instances' configs and data (each instance's user reads its own)."""
        return self.root_dir / "caches"

    @property
    def sites_dir(self) -> Path:
        """Where sites lived before tenants (HOSTPLANE_SITES_DIR): a site's files are now in
        its tenant's home (`site_dir`); an older release's are moved from here."""
        return self.host_dir / "sites"

    def site_dir(self, site: str, tenant: str | None = None) -> Path:
        """Where the local runtime keeps `site`'s files: `<homes dir>/<tenant>/web/<site>`
        (LocalRuntime.site_root); a site created without a tenant is in the home of the
        tenant made for it, named after the site."""
        return self.homes_dir / (tenant or site) / SITES_FOLDER / site

    @property
    def run_dir(self) -> Path:
        return self.host_dir / "run"

    @property
    def edge_dir(self) -> Path:
        return self.host_dir / "edge"

    @property
    def dns_dir(self) -> Path:
        return self.host_dir / "dns"

    @property
    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "HOSTPLANE_DATA_DIR": str(self.data_dir),
            "HOSTPLANE_SITES_DIR": str(self.sites_dir),
            "HOSTPLANE_RUN_DIR": str(self.run_dir),
            "HOSTPLANE_EDGE_DIR": str(self.edge_dir),
            "HOSTPLANE_DNS_DIR": str(self.dns_dir),
            "HOSTPLANE_HOMES_DIR": str(self.homes_dir),
            "HOSTPLANE_SFTP_DIR": str(self.sftp_dir),
            "HOSTPLANE_CACHES_DIR": str(self.caches_dir),
            "HOSTPLANE_SFTP_PORT": str(self.sftp_port),
            "HOSTPLANE_LISTEN": f"127.0.0.1:{self.api_port}",
            "HOSTPLANE_EDGE_HTTP_PORT": str(self.edge_port),
            "HOSTPLANE_EDGE_BIND": "127.0.0.1",
            "HOSTPLANE_EDGE_HTTPS_PORT": str(self.https_port),
            "HOSTPLANE_DNS_PORT": str(self.dns_port),
            "HOSTPLANE_PDNS_API_LISTEN": f"127.0.0.1:{self.pdns_api_port}",
            "HOSTPLANE_LOG_FORMAT": "json",
            # Tests that want the scheduled reconcile turn it on; the rest break things on
            # purpose and must not have them repaired behind their back.
            "HOSTPLANE_RECONCILE_INTERVAL": "0",
            # No site database server unless a test gives one: never the machine's own, where
            # Hostplane would otherwise make its account (HOSTPLANE_SITE_DB_URL unset).
            "HOSTPLANE_SITE_DB_SOCKET": str(self.data_dir.parent / "no-site-db.sock"),
            "HOSTPLANE_SITE_DB_PORT": "1",
            **self.extra_env,
        }
        if self.database_url:
            env["HOSTPLANE_DATABASE_URL"] = self.database_url
        return env

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def caddy_admin_url(self) -> str:
        return self.extra_env.get(
            "HOSTPLANE_CADDY_ADMIN_URL", f"unix://{self.run_dir / 'edge' / 'admin.sock'}"
        )

    def caddy_admin(self) -> httpx.Client:
        """A client of the edge's admin API (the managed Caddy's socket: as root)."""
        return admin_client(self.caddy_admin_url)

    @property
    def edge_pid_file(self) -> Path:
        return self.data_dir / "edge" / "caddy.pid"

    def edge_pid(self) -> int | None:
        """The managed Caddy's pid, if one runs."""
        try:
            pid = int(self.edge_pid_file.read_text().strip())
            alive = b"caddy" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except (ValueError, FileNotFoundError):
            return None
        return pid if alive else None

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}-hostctl.log"

    def start(self, *args: str, timeout: float = 30.0) -> ControlPlane:
        """`hostctl <command> [args]`, once its API answers."""
        self.prepare()
        self.proc = self.launch(*args)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hostctl up exited {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.api_url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"hostctl up did not become healthy:\n{self.log_tail()}")

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.data_dir.chmod(0o700)

    def launch(self, *args: str) -> subprocess.Popen[bytes]:
        """`hostctl <command> [args]` in the background, logging to `log_path`."""
        log = self.log_path.open("ab")
        try:
            return subprocess.Popen(
                [HOSTCTL, self.command, *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            log.close()

    def start_worker(self, **env: str) -> subprocess.Popen[bytes]:
        """A separate `hostctl worker` on the same data directory and databases; `env`
        adds settings of its own (HOSTPLANE_EXECUTOR_ID=...)."""
        suffix = env.get("HOSTPLANE_EXECUTOR_ID", "worker")
        log = (self.data_dir.parent / f"{self.data_dir.name}-{suffix}.log").open("ab")
        proc = subprocess.Popen(
            [HOSTCTL, "worker"],
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        return proc

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def stop(self, *, edge: bool = True) -> None:
        """SIGTERM the control plane; with `edge`, stop its Caddy too, which outlives the
        control plane by design (the next start adopts it): a test must not leak it."""
        terminate(self.proc, timeout=20)
        self.proc = None
        if edge:
            self.stop_edge()
            self.stop_caches()
        self.stop_powerdns()
        self.stop_sftp()

    def cache_pids(self) -> dict[str, int]:
        """Its cache instances' redis-server processes (they outlive the plane by design), by
        instance: those whose config is under its caches dir."""
        found = {}
        prefix = f"{self.caches_dir}/".encode()
        for proc in Path("/proc").iterdir():
            with contextlib.suppress(OSError):
                argv = (proc / "cmdline").read_bytes().split(b"\0")
                if proc.name.isdigit() and len(argv) > 1 and argv[1].startswith(prefix):
                    found[argv[1][len(prefix) :].split(b"/")[0].decode()] = int(proc.name)
        return found

    def stop_caches(self) -> None:
        """A test that ends must not leak its cache instances."""
        for pid in self.cache_pids().values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            wait_gone(pid, f"cache instance {pid} to stop")

    def stop_sftp(self) -> None:
        """Its sshd outlives the control plane like the edge; a test that ends must not leak
        it."""
        with contextlib.suppress(ValueError, ProcessLookupError, FileNotFoundError):
            pid = int((self.sftp_dir / "sshd.pid").read_text().strip())
            if str(self.sftp_dir).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGTERM)

    def stop_edge(self) -> None:
        self.stop_front()
        pid = self.edge_pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        wait_gone(pid, f"the edge (pid {pid}) to stop")

    @property
    def front_config(self) -> Path:
        return self.data_dir / "edge" / "haproxy" / "haproxy.cfg"

    def front_pid(self) -> int | None:
        """The managed HAProxy's pid (HOSTPLANE_EDGE_FRONT=haproxy), if one runs."""
        try:
            pid = int((self.front_config.parent / "haproxy.pid").read_text().strip())
            ours = str(self.front_config).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
        except (ValueError, FileNotFoundError):
            return None
        return pid if ours else None

    def stop_front(self) -> None:
        """Its HAProxy outlives the control plane like its Caddy: a test must not leak it."""
        pid = self.front_pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        wait_gone(pid, f"the front (pid {pid}) to stop")

    def stop_powerdns(self) -> None:
        """Its PowerDNS outlives the control plane by design (DNS must not drop while the
        plane restarts); a test that ends must not leak it."""
        pid_file = self.dns_dir / "server.pid"
        with contextlib.suppress(ValueError, ProcessLookupError, FileNotFoundError):
            pid = int(pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"pdns_server" in cmdline and str(self.dns_dir).encode() in cmdline:
                os.kill(pid, signal.SIGTERM)

    def clean_host(self) -> None:
        """What sites a test left behind outside its temporary directory: PHP-FPM masters
        (they outlive the control plane by design) and the sites' system users."""
        for pid_file in (self.run_dir / "php-fpm").glob("*.pid"):
            with contextlib.suppress(ValueError, ProcessLookupError, FileNotFoundError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)  # workers go too
        # Tenants outlive their sites (a destroyed site leaves its tenant's user): every user
        # of this plane's, found by its home in this plane's directories.
        mine = {self.host_dir, self.root_dir}
        leftovers.remove_users(lambda home_in: home_in in mine)

    def arm(self, spec: str) -> None:
        """Arm failpoints (`name=action,...`; empty disarms) in a control plane started with
        HOSTPLANE_FAILPOINTS=@armed; each named one fires once more."""
        self.prepare()
        for name in failpoints.parse(spec):
            (self.data_dir / "failpoints" / name).unlink(missing_ok=True)
        staged = self.data_dir / f"{failpoints.ARMED_FILE}.new"
        staged.write_text(spec)
        staged.replace(self.data_dir / failpoints.ARMED_FILE)

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    @property
    def token(self) -> str:
        return (self.data_dir / "api-token").read_text().strip()

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.api_url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )

    def cli(
        self, *args: str, timeout: float = 120, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """hostctl with `args` (`stdin`: what it reads, else nothing)."""
        env = {**self.env, "HOSTPLANE_API_URL": self.api_url}
        return subprocess.run(
            [HOSTCTL, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=stdin or "",
        )

    def edge_get(self, host: str, path: str = "/") -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.edge_port}{path}", headers={"Host": host})

    def caddy_config(self) -> dict[str, Any]:
        with self.caddy_admin() as client:
            body = client.get("/config/").json()
        return body if isinstance(body, dict) else {}

    @property
    def front(self) -> str:
        """What answers on the edge's ports, HOSTPLANE_EDGE_FRONT resolved as the plane's
        settings resolve it: auto is haproxy unless an operator's Caddy is named."""
        env = self.env
        front = env.get("HOSTPLANE_EDGE_FRONT", "auto")
        if front == "auto":
            return "caddy" if env.get("HOSTPLANE_CADDY_ADMIN_URL") else "haproxy"
        return front

    def host_map(self) -> RuntimeHostMap:
        """The HAProxy front's running host map (its runtime socket: as root)."""
        layout = FrontLayout(
            self.data_dir / "edge" / "haproxy", self.run_dir / "edge" / "haproxy.sock"
        )
        return RuntimeHostMap(layout.socket, layout.hosts_map, timeout=5)

    def edge_route_ids(self) -> set[str]:
        """The ids of the routes the edge serves, whichever front: the `@id` of Caddy's
        routes, or the route field of every line of HAProxy's host map (Caddy behind it
        names no site)."""
        if self.front == "haproxy":
            return {value.split("|", 1)[0] for value in self.host_map().observe().values()}
        servers = self.caddy_config().get("apps", {}).get("http", {}).get("servers", {})
        return {r["@id"] for s in servers.values() for r in s.get("routes", []) if "@id" in r}

    def wait_operation(self, op_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.api() as api:
            while True:
                left = max(0.0, min(deadline - time.monotonic(), 20))
                # Answered once it ends (an older release's plane answers at once: polled).
                r = api.get(f"/v1/operations/{op_id}", params={"wait": round(left, 3)})
                op: dict[str, Any] = r.json()
                if op["status"] in ("SUCCEEDED", "FAILED"):
                    return op
                if time.monotonic() > deadline:
                    raise AssertionError(f"operation {op_id} stuck: {op}")
                time.sleep(0.1)


class FaultyAdminProxy:
    """Forwards to a real Caddy admin API; `mode` can stall or reject POST /load."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.mode = "pass"  # pass | stall | reject
        self.reject_containing: bytes | None = None  # refuse only configs that contain this
        self.stall_containing: bytes | None = None  # stall only configs that contain this
        self.loads_seen = 0
        self.after_load: Callable[[], None] | None = None  # once, after Caddy loads
        self.released = threading.Event()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if self.command == "POST" and self.path == "/load":
                    proxy.loads_seen += 1
                    stalled = proxy.stall_containing
                    if proxy.mode == "stall" or (stalled and body and stalled in body):
                        proxy.released.wait(300)
                        return
                    refused = proxy.reject_containing
                    if proxy.mode == "reject" or (refused and body and refused in body):
                        self._answer(400, b'{"error":"injected fault: config refused"}')
                        return
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
                conn.close()
                hook = proxy.after_load
                if hook is not None and self.command == "POST" and self.path == "/load":
                    proxy.after_load = None  # once, before the control plane hears back
                    hook()
                self._answer(resp.status, payload)

            def _answer(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


class CaddyServer:
    """A Caddy started by the test itself (admin only), for control planes given its URL."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.admin_port = free_port()
        state_dir.mkdir(parents=True, exist_ok=True)
        config = state_dir / "admin.json"
        admin = {"listen": f"127.0.0.1:{self.admin_port}", "config": {"persist": False}}
        config.write_text(json.dumps({"admin": admin}))
        env = {
            **os.environ,
            "XDG_DATA_HOME": str(state_dir / "data"),
            "XDG_CONFIG_HOME": str(state_dir / "cfg"),
            "HOME": str(state_dir),
        }
        log = (state_dir / "caddy.log").open("ab")
        self.proc = subprocess.Popen(
            ["caddy", "run", "--config", str(config)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.admin_url}/config/", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("test Caddy did not start")

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class TcpProxy:
    """A TCP forwarder to a real server whose `mode` can refuse or stall new connections."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.mode = "pass"  # pass | refuse | stall
        self.connections = 0
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        if self.mode == "refuse":
            client.close()
            return
        while self.mode == "stall" and not self._closed:
            time.sleep(0.05)
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        except OSError:
            client.close()
            return
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed = True
        self.listener.close()


def php_fpm_wrapper(directory: Path) -> Path:
    """A php-fpm that fails to start while `<directory>/fail` exists and hangs while
    `<directory>/stall` exists (then gives up, never starting a late second master)."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "php-fpm"
    script.write_text(
        "#!/bin/sh\n"
        f'd="{directory}"\n'
        'if [ "$1" != "-t" ]; then\n'
        '  if [ -e "$d/fail" ]; then echo "injected fault: php-fpm cannot start" >&2; exit 78; fi\n'
        '  if [ -e "$d/stall" ]; then while [ -e "$d/stall" ]; do sleep 0.1; done; exit 75; fi\n'
        "fi\n"
        'exec php-fpm8.2 "$@"\n'
    )
    script.chmod(0o755)
    return script


def stalling_commands(directory: Path, *commands: str) -> Path:
    """A directory to put first on PATH: each command hangs while `<directory>/stall-<name>`
    exists (then gives up, so a late run never acts), and runs the real one otherwise."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in commands:
        real = shutil.which(name)
        assert real, name
        script = directory / name
        script.write_text(
            "#!/bin/sh\n"
            f'if [ -e "{directory}/stall-{name}" ]; then\n'
            f'  touch "{directory}/reached-{name}"\n'
            f'  while [ -e "{directory}/stall-{name}" ]; do sleep 0.1; done; exit 75\n'
            "fi\n"
            f'exec {real} "$@"\n'
        )
        script.chmod(0o755)
    return directory


class UnixStallProxy:
    """Forwards a unix socket (the Docker API) byte for byte; a request whose bytes contain
    `stall_on` waits (and is never sent) while the proxy is stalling."""

    def __init__(self, upstream: str, path: Path) -> None:
        self.upstream = upstream
        self.path = path
        self.stall_on: bytes | None = None
        self.stalled = threading.Event()
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(str(path))
        self.listener.listen(64)
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def host(self) -> str:
        return f"unix://{self.path}"

    def release(self) -> None:
        self.stall_on = None

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.upstream)
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, requests: bool) -> None:
        try:
            while data := src.recv(65536):
                if requests and self.stall_on is not None and self.stall_on in data:
                    self.stalled.set()
                    while self.stall_on is not None and not self._closed:
                        time.sleep(0.05)
                    return  # the request is dropped: whoever sent it is gone by now
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closed = True
        self.listener.close()
