"""Restarts never drop traffic: SIGTERM or SIGINT of `hostctl up` leaves the edge serving, the
next start adopts that same Caddy (same pid), watches it and starts it again if it dies; with
--stop-edge the edge stops with the control plane. The HAProxy in front of it (the default with
the managed Caddy) is adopted and stopped alike. A stranger already on the edge's admin
socket or HTTP port is a start-up error naming the address, before any load is sent."""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import ControlPlane, wait_for, wait_gone


@dataclass
class Load:
    """A GET through the edge every 10 ms, each on a new connection, from a thread."""

    port: int
    host: str
    done: list[tuple[float, bool, str]] = field(default_factory=list)  # (when, ok, detail)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/", headers={"Host": self.host})
                resp = conn.getresponse()
                resp.read()
                conn.close()
                self.done.append((time.monotonic(), resp.status == 200, str(resp.status)))
            except OSError as exc:
                self.done.append((time.monotonic(), False, repr(exc)))
            time.sleep(max(0.0, 0.01 - (time.monotonic() - began)))

    def more(self, count: int) -> None:
        target = len(self.done) + count
        wait_for(lambda: len(self.done) >= target, f"{count} more requests")

    def stop(self) -> tuple[int, list[str], float]:
        """(requests, failures, longest gap in ms between two answered requests)."""
        self._stop.set()
        self._thread.join(timeout=10)
        answered = [t for t, ok, _ in self.done if ok]
        gaps = [b - a for a, b in itertools.pairwise(answered)]
        failures = [detail for _, ok, detail in self.done if not ok]
        return len(self.done), failures, round(max(gaps) * 1000, 1)


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ControlPlane, str]]:
    cp = ControlPlane(tmp_path_factory.mktemp("restarts") / "data").start()
    name = f"up-{uuid.uuid4().hex[:6]}"
    assert cp.cli("site", "create", name, "--wait").returncode == 0
    yield cp, f"{name}.localhost"
    cp.stop()


def test_a_control_plane_restart_drops_no_request(plane: tuple[ControlPlane, str]):
    cp, host = plane
    edge = cp.edge_pid()
    assert edge is not None
    # The HAProxy in front (the default with the managed Caddy) is adopted alike.
    front = cp.front_pid() if cp.front == "haproxy" else None
    assert (front is None) == (cp.front == "caddy")
    load = Load(cp.edge_port, host)
    load.more(20)
    for sig in (signal.SIGTERM, signal.SIGINT):
        assert cp.proc is not None
        cp.proc.send_signal(sig)
        cp.proc.wait(timeout=30)
        cp.proc = None
        assert cp.edge_pid() == edge, f"the edge did not outlive {sig.name}"
        assert cp.front_pid() == front, f"the front did not outlive {sig.name}"
        load.more(20)  # served with no control plane at all
        cp.start()
        load.more(20)
        assert cp.edge_pid() == edge
        assert _events(cp, "caddy.adopted")[-1]["pid"] == edge
        if front is not None:
            assert cp.front_pid() == front
            assert _events(cp, "haproxy.adopted")[-1]["pid"] == front
    requests, failures, longest_gap_ms = load.stop()
    print(
        f"\nrestart: {requests} requests, {len(failures)} failed, longest gap {longest_gap_ms} ms"
    )
    assert failures == [], failures[:5]
    assert [e["pid"] for e in _events(cp, "caddy.started")] == [edge]  # started once, ever
    if front is not None:
        assert [e["pid"] for e in _events(cp, "haproxy.started")] == [front]


def test_an_adopted_edge_that_dies_is_started_again(plane: tuple[ControlPlane, str]):
    cp, host = plane
    edge = cp.edge_pid()
    assert edge is not None and _events(cp, "caddy.adopted")
    os.kill(edge, signal.SIGKILL)  # not the control plane's child: it watches a pidfd
    wait_gone(edge, "the killed edge")
    wait_for(lambda: cp.edge_pid() not in (None, edge), "a new edge")
    wait_for(lambda: cp.edge_get(host).status_code == 200, "the site served again", timeout=15)
    assert _events(cp, "caddy.exited")[-1]["pid"] == edge


def _events(cp: ControlPlane, name: str) -> list[dict[str, Any]]:
    found = []
    for line in cp.log_path.read_text().splitlines():
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if isinstance(event, dict) and event.get("event") == name:
                found.append(event)
    return found


def test_stop_edge_stops_the_edge_with_the_control_plane(tmp_path: Path):
    cp = ControlPlane(tmp_path / "data").start("--stop-edge")
    try:
        edge, front = cp.edge_pid(), cp.front_pid()
        assert edge is not None
        assert (front is None) == (cp.front == "caddy")
        assert cp.proc is not None
        cp.proc.send_signal(signal.SIGTERM)
        cp.proc.wait(timeout=30)
        wait_gone(edge, "the edge to stop with the control plane", timeout=1)
        assert not cp.edge_pid_file.exists()
        if front is not None:
            wait_gone(front, "the front to stop with the control plane", timeout=1)
            assert cp.front_pid() is None
    finally:
        cp.stop()


def _fails_to_start(cp: ControlPlane) -> str:
    cp.prepare()
    proc = cp.launch()
    assert proc.wait(timeout=60) != 0
    log = cp.log_path.read_text()
    assert "caddy.started" not in log and "edge.loaded" not in log, log[-2000:]
    assert "haproxy.started" not in log, log[-2000:]
    assert cp.edge_pid() is None and cp.front_pid() is None
    last = log.strip().splitlines()[-1]
    assert last.startswith("error: "), last
    return last


def test_a_stranger_on_the_admin_socket_is_a_startup_error(tmp_path: Path):
    cp = ControlPlane(tmp_path / "data")
    path = cp.run_dir / "edge" / "admin.sock"
    path.parent.mkdir(parents=True)
    stranger = socket.socket(socket.AF_UNIX)
    stranger.bind(str(path))
    stranger.listen(8)
    heard: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = stranger.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    heard.append(conn.recv(65536))

    threading.Thread(target=serve, daemon=True).start()
    try:
        line = _fails_to_start(cp)
    finally:
        stranger.close()
    assert f"unix/{path} is already served by another process" in line, line
    assert not [h for h in heard if h], heard  # never a request, let alone a /load


def test_a_stranger_on_the_http_port_is_a_startup_error(tmp_path: Path):
    cp = ControlPlane(tmp_path / "data")
    stranger = socket.socket()
    stranger.bind(("127.0.0.1", cp.edge_port))
    stranger.listen(8)
    try:
        line = _fails_to_start(cp)
    finally:
        stranger.close()
    assert f"127.0.0.1:{cp.edge_port} is already in use by another process" in line, line
    assert "HOSTPLANE_EDGE_HTTP_PORT" in line


def test_no_haproxy_to_front_the_edge_is_a_startup_error_before_caddy_starts(tmp_path: Path):
    """A plane on the haproxy default without HAProxy installed (upgraded, no `make install`)
    stops before Caddy starts or leaves the edge's ports, saying what to do."""
    cp = ControlPlane(tmp_path / "data", extra_env={"HOSTPLANE_HAPROXY_BINARY": "/none/haproxy"})
    assert cp.front == "haproxy"
    line = _fails_to_start(cp)
    assert "HAProxy binary '/none/haproxy' was not found" in line, line
    assert "HOSTPLANE_EDGE_FRONT=caddy" in line, line
