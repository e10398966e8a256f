"""The managed HAProxy on a real system: started as root, running as the edge user in front of
the managed Caddy (behind it on a unix socket), with a default certificate; adopted by a
second start, replaced when its config changes, left running when a new config is refused,
started again when it dies, and never started over a stranger on its port."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import http.client
import os
import signal
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hostplane.providers.base import Outcome, PermanentError
from hostplane.providers.caddy.edge import CaddyEdge, CaddyEdgeConfig
from hostplane.providers.caddy.process import CaddyProcess, EdgeProcessConfig
from hostplane.providers.edge import EdgeRoute, EdgeState
from hostplane.providers.haproxy import listeners
from hostplane.providers.haproxy import process as process_module
from hostplane.providers.haproxy.certs import RuntimeCertificates
from hostplane.providers.haproxy.edge import HaproxyEdge
from hostplane.providers.haproxy.frontend import FrontendConfig
from hostplane.providers.haproxy.layout import FrontLayout
from hostplane.providers.haproxy.process import FrontProcessConfig, HaproxyProcess
from hostplane.providers.haproxy.runtime import RuntimeHostMap
from hostplane.providers.local import users
from hostplane.providers.runtime import StaticFiles
from tests.e2e.harness import free_port, host_tmpdir, wait_for, wait_gone
from tests.integration.test_haproxy_hostmap import HAPROXY


@dataclass
class Front:
    config: FrontProcessConfig
    process: HaproxyProcess
    edge: HaproxyEdge
    port: int
    state: EdgeState


def _uid(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


@pytest.fixture
def front(tmp_path: Path) -> Iterator[Front]:
    host = host_tmpdir()
    state_dir = tmp_path / "edge"
    site = host / "site"
    site.mkdir()
    (site / "index.html").write_text("served from behind\n")
    run = host / "run" / "edge"
    caddy = CaddyProcess(
        EdgeProcessConfig("caddy", state_dir, host / "edge-home", run / "admin.sock")
    )
    caddy.start()
    layout = FrontLayout(state_dir / "haproxy", run / "haproxy.sock")
    port, https = free_port(), free_port()
    frontend = FrontendConfig(
        admin_socket=layout.socket,
        map_path=layout.hosts_map,
        challenges_map=layout.challenges_map,
        http_listen=f"127.0.0.1:{port}",
        https_listen=f"127.0.0.1:{https}",
        crt_list=layout.crt_list,
        behind=str(run / "behind.sock"),
        not_found_file=layout.body("not-found"),
        maintenance_file=layout.body("maintenance"),
        suspended_file=layout.body("suspended"),
        denied_file=layout.body("denied"),
    )
    config = FrontProcessConfig(
        HAPROXY, layout, frontend, "caddy", host / "edge-home", (("127.0.0.1", port, "PORT"),)
    )
    process = HaproxyProcess(config)
    hosts = RuntimeHostMap(layout.socket, layout.hosts_map)
    edge = HaproxyEdge(
        CaddyEdge(
            CaddyEdgeConfig(
                admin_url=caddy.admin_url,
                http_listen="unused",
                confirm_url=f"http://127.0.0.1:{port}",
                state_dir=state_dir,
                confirm_timeout=5,
                https_confirm=("127.0.0.1", https),
            )
        ),
        f"unix/{run / 'behind.sock'}",
        hosts,
        RuntimeHostMap(layout.socket, layout.challenges_map),
        RuntimeCertificates(hosts, layout.cert_dir, layout.crt_list),
    )
    state = EdgeState((EdgeRoute("site-a", ("a.test",), StaticFiles(str(site))),))
    made = Front(config, process, edge, port, state)
    try:
        assert edge.ensure_behind() is Outcome.UPDATED
        assert process.start() is Outcome.CREATED
        edge.apply(state)
        yield made
    finally:
        try:
            edge.close()
            made.process.stop()
            _end_left(layout)
        finally:
            caddy.stop()


def _end_left(layout: FrontLayout) -> None:
    """The test's HAProxy, if a test left one running that its process object no longer
    watches (detached): found by its pid file and its command line, ended."""
    with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
        pid = int(layout.pid_file.read_text())
        if str(layout.config).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, signal.SIGTERM)
            wait_gone(pid, "the test's HAProxy")


def _default_fingerprint(layout: FrontLayout) -> str:
    pem = layout.default_cert.read_text()
    cert = pem[: pem.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")]
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert)).hexdigest()


def test_it_serves_as_the_edge_user_from_caddy_behind_a_unix_socket(front):
    pid = front.process.pid
    assert pid is not None
    assert _uid(pid) == users.ids("caddy")[0] != 0  # root only to start
    front.edge.confirm("a.test", "site-a")
    assert front.edge.get("a.test").text == "served from behind\n"
    assert front.edge.get("nobody.test").status_code == 404
    assert front.edge.in_sync(front.state) == (True, frozenset({"site-a"}))
    # HTTPS starts with a certificate of its own, presented to a name no site has.
    layout = front.config.layout
    assert front.edge.served_certificate("nobody.test") == _default_fingerprint(layout)
    assert layout.crt_list.read_text().splitlines()[0] == str(layout.default_cert)
    assert (layout.default_cert.stat().st_mode & 0o777) == 0o600


def test_a_second_start_adopts_it_and_a_changed_config_replaces_it(front):
    pid = front.process.pid
    front.process.detach()
    again = HaproxyProcess(front.config)
    assert again.start() is Outcome.UNCHANGED
    assert again.pid == pid
    front.process = again

    changed = dataclasses.replace(
        front.config,
        frontend=dataclasses.replace(
            front.config.frontend, denied_paths=("/wp-admin/install.php",), installer_key="k"
        ),
    )
    again.detach()
    replaced = HaproxyProcess(changed)
    assert replaced.start() is Outcome.UPDATED
    front.process = replaced
    assert replaced.pid != pid
    assert pid is not None
    wait_gone(pid, "the replaced HAProxy")
    assert "installer_key" in front.config.layout.config.read_text()
    # The map survives in its file: the new process serves the site at once.
    assert front.edge.get("a.test").status_code == 200


def test_a_deaf_one_of_ours_is_replaced(front):
    pid = front.process.pid
    assert pid is not None
    front.process.detach()
    os.kill(pid, signal.SIGSTOP)  # its socket still accepts; nothing answers on it
    replaced = HaproxyProcess(front.config)
    front.process = replaced
    started = time.monotonic()
    assert replaced.start() is Outcome.UPDATED
    assert time.monotonic() - started < 8
    wait_gone(pid, "the stopped HAProxy")
    assert replaced.pid not in (None, pid)
    assert front.edge.get("a.test").status_code == 200


def test_a_refused_config_leaves_the_running_one_in_force(front):
    pid = front.process.pid
    layout = front.config.layout
    before = layout.config.read_text()
    bad = dataclasses.replace(
        front.config,
        frontend=dataclasses.replace(front.config.frontend, http_listen="127.0.0.1:99999"),
    )
    front.process.detach()
    refused = HaproxyProcess(bad)
    with pytest.raises(PermanentError, match="refused the generated config") as caught:
        refused.start()
    assert "99999" in str(caught.value.detail)
    assert layout.config.read_text() == before
    assert pid is not None and _uid(pid) != 0  # still running
    assert front.edge.get("a.test").status_code == 200
    front.process = HaproxyProcess(front.config)
    assert front.process.start() is Outcome.UNCHANGED


def test_a_dead_one_is_started_again_and_the_plane_told(front):
    front.process.detach()
    told = threading.Event()
    watched = HaproxyProcess(front.config)
    front.process = watched
    assert watched.start(on_restart=told.set) is Outcome.UNCHANGED
    pid = watched.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert told.wait(20), front.config.layout.log.read_text()[-2000:]
    assert watched.pid not in (None, pid)
    assert front.edge.get("a.test").status_code == 200


def test_it_is_not_started_over_a_stranger_on_its_port(front):
    pid = front.process.pid
    front.process.stop()
    assert pid is not None
    wait_gone(pid, "the stopped HAProxy")
    with socket.socket() as stranger:
        stranger.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        stranger.bind(("127.0.0.1", front.port))
        stranger.listen(1)
        with pytest.raises(PermanentError, match=r"already in use.*PORT"):
            HaproxyProcess(front.config).start()
    front.process = HaproxyProcess(front.config)
    assert front.process.start() is Outcome.CREATED
    wait_for(lambda: front.edge.get("a.test").status_code == 200, "the site again", 5)


class _Visitors:
    """A visitor sending requests to the edge without pause, a new connection for each, and
    one slow download read a little at a time: every failure is kept."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.answered = 0
        self.downloaded = -1
        self._threads = [
            threading.Thread(target=self._requests, daemon=True),
            threading.Thread(target=self._download, daemon=True),
        ]

    def __enter__(self) -> _Visitors:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def _requests(self) -> None:
        while not self.stop.is_set():
            conn = self._connection()
            try:
                conn.request("GET", "/", headers={"Host": "a.test", "Connection": "close"})
                answer = conn.getresponse()
                if answer.status != 200 or answer.read() != b"served from behind\n":
                    self.failures.append(f"answered {answer.status}")
                self.answered += 1
            except OSError as exc:
                self.failures.append(f"request: {exc!r}")
            finally:
                conn.close()

    def _download(self) -> None:
        conn = self._connection()
        try:
            conn.request("GET", "/big.bin", headers={"Host": "a.test"})
            answer = conn.getresponse()
            got = 0
            while chunk := answer.read(256 * 1024):
                got += len(chunk)
                time.sleep(0.02)  # ~12 MB/s: in flight across the reload
            self.downloaded = got
        except OSError as exc:
            self.failures.append(f"download: {exc!r}")
        finally:
            conn.close()


def test_a_changed_config_is_reloaded_without_refusing_or_cutting_a_request(front):
    old = front.process.pid
    assert old is not None
    site = front.config.edge_dir.parent / "site"
    size = 64 * 1024 * 1024
    with (site / "big.bin").open("wb") as out:
        out.truncate(size)
    changed = dataclasses.replace(
        front.config,
        frontend=dataclasses.replace(
            front.config.frontend, denied_paths=("/wp-admin/install.php",), installer_key="k"
        ),
    )
    layout = front.config.layout
    with _Visitors(front.port) as visitors:
        wait_for(lambda: visitors.answered > 20, "requests before the reload", 10)
        front.process.detach()
        reloaded = HaproxyProcess(changed)
        front.process = reloaded
        assert reloaded.start() is Outcome.UPDATED
        new = reloaded.pid
        assert new not in (None, old)
        assert new is not None
        assert int(layout.pid_file.read_text()) == new
        assert Path(f"/proc/{old}").exists()  # draining the download
        assert listeners.holds_tcp_port(new, front.port)
        wait_gone(old, "the reloaded-away HAProxy, once its download ended", 30)
        before = visitors.answered
        wait_for(lambda: visitors.answered > before + 20, "requests after the reload", 10)
    assert visitors.failures == []
    assert visitors.downloaded == size
    assert _uid(new) == users.ids("caddy")[0]
    assert "installer_key" in layout.config.read_text()
    argv = Path(f"/proc/{new}/cmdline").read_bytes().split(b"\0")
    assert argv[-3:-1] == [b"-sf", str(old).encode()]
    # The next start adopts the reloaded one, started with the reload's arguments.
    reloaded.detach()
    again = HaproxyProcess(changed)
    front.process = again
    assert again.start() is Outcome.UNCHANGED
    assert again.pid == new
    # One reloaded in its turn: its runtime socket is the first one's, passed on twice.
    again.detach()
    third = HaproxyProcess(front.config)
    front.process = third
    with _Visitors(front.port) as visitors:
        wait_for(lambda: visitors.answered > 20, "requests before the second reload", 10)
        assert third.start() is Outcome.UPDATED
        wait_gone(new, "the HAProxy reloaded away in its turn", 30)
        before = visitors.answered
        wait_for(lambda: visitors.answered > before + 20, "requests after it", 10)
    assert visitors.failures == []
    assert third.pid not in (None, new, old)
    assert "installer_key" not in layout.config.read_text()


def _slow_download(port: int, done: threading.Event) -> None:
    with contextlib.suppress(OSError):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/big.bin", headers={"Host": "a.test"})
        answer = conn.getresponse()
        while answer.read(64 * 1024) and not done.is_set():
            time.sleep(0.05)
        conn.close()


def test_a_reloaded_away_one_that_outlives_its_hard_stop_is_ended(front, monkeypatch):
    monkeypatch.setattr(process_module, "HARD_STOP_AFTER", 0)
    monkeypatch.setattr(process_module, "DRAIN_GRACE", 1.0)
    old = front.process.pid
    assert old is not None
    with (front.config.edge_dir.parent / "site" / "big.bin").open("wb") as out:
        out.truncate(256 * 1024 * 1024)  # read for minutes at this pace
    done = threading.Event()
    reader = threading.Thread(target=_slow_download, args=(front.port, done), daemon=True)
    reader.start()
    time.sleep(0.5)
    changed = dataclasses.replace(
        front.config,
        frontend=dataclasses.replace(
            front.config.frontend, installer_key="k", denied_paths=("/x",)
        ),
    )
    front.process.detach()
    front.process = HaproxyProcess(changed)
    started = time.monotonic()
    assert front.process.start() is Outcome.UPDATED
    wait_gone(old, "the overdue HAProxy", 10)
    assert time.monotonic() - started < 8  # its own hard-stop-after in the config is 30 s
    done.set()
    reader.join(timeout=5)


def test_a_stranger_on_a_port_the_new_config_needs_refuses_the_reload(front):
    old = front.process.pid
    layout = front.config.layout
    before = layout.config.read_text()
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", 0))
        stranger.listen(1)
        taken = stranger.getsockname()[1]
        moved = dataclasses.replace(
            front.config,
            frontend=dataclasses.replace(front.config.frontend, http_listen=f"127.0.0.1:{taken}"),
            ports=(("127.0.0.1", taken, "PORT"),),
        )
        front.process.detach()
        with pytest.raises(PermanentError, match=r"already in use.*PORT"):
            HaproxyProcess(moved).start()
    assert layout.config.read_text() == before
    assert int(layout.pid_file.read_text()) == old
    assert front.edge.get("a.test").status_code == 200
    front.process = HaproxyProcess(front.config)
    assert front.process.start() is Outcome.UNCHANGED
    assert front.process.pid == old


def test_before_caddy_goes_behind_haproxy_is_there_and_the_ports_free_or_this_planes(
    tmp_path: Path,
):
    """A port held by the process of a pid file given (this plane's HAProxy or Caddy) is
    fine; held by any other, the start stops there, naming the port and its setting. No
    HAProxy binary stops it too, saying what to do."""
    port = free_port()
    held = socket.socket()
    held.bind(("127.0.0.1", port))
    held.listen(1)
    ours, other = tmp_path / "ours.pid", tmp_path / "other.pid"
    ours.write_text(f"{os.getpid()}\n")
    other.write_text("1\n")
    ports = (("127.0.0.1", port, "HOSTPLANE_EDGE_HTTP_PORT"),)

    def check(*args: Any) -> None:
        process_module.check_before_behind(HAPROXY, *args)

    try:
        check(ports, (tmp_path / "missing.pid", ours))
        with pytest.raises(PermanentError, match=f"127.0.0.1:{port} is already in use"):
            check(ports, (other,))
    finally:
        held.close()
    check(ports, ())  # free
    with pytest.raises(PermanentError, match=r"make install.*HOSTPLANE_EDGE_FRONT=caddy"):
        process_module.check_before_behind("/nonexistent/haproxy", (), ())
