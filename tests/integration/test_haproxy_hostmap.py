"""The edge's host map in a real HAProxy: applied by diff, observed in one call, served."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hostplane.providers.base import Outcome
from hostplane.providers.edge import EdgeRoute, EdgeState
from hostplane.providers.haproxy.hostmap import host_map
from hostplane.providers.haproxy.runtime import RuntimeHostMap
from hostplane.providers.runtime import StaticFiles
from tests.e2e.harness import wait_for
from tests.services import free_port, terminate

HAPROXY = os.environ.get("HOSTPLANE_TEST_HAPROXY") or shutil.which("haproxy") or "haproxy"


def _state(count: int, root: str = "/srv") -> EdgeState:
    return EdgeState(
        tuple(
            EdgeRoute(f"site-s{i}", (f"s{i}.localhost",), StaticFiles(f"{root}/s{i}"))
            for i in range(count)
        )
    )


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[tuple[RuntimeHostMap, str]]:
    """HAProxy answering each request with the map's value for its Host (404 without one)."""
    port = free_port()
    sock, map_file = tmp_path / "admin.sock", tmp_path / "hosts.map"
    map_file.write_text("")
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(
        f"""global
  stats socket {sock} mode 600 level admin
defaults
  mode http
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend fe
  bind 127.0.0.1:{port}
  http-request set-var(txn.site) req.hdr(host),lower,word(1,:),map({map_file})
  http-request return status 404 if !{{ var(txn.site) -m found }}
  http-request return status 200 content-type text/plain lf-string "%[var(txn.site)]"
"""
    )
    proc = subprocess.Popen(
        [HAPROXY, "-db", "-f", str(cfg)],
        stdout=(tmp_path / "haproxy.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert proc.poll() is None, (tmp_path / "haproxy.log").read_text()
            assert time.monotonic() < deadline, "haproxy did not start"
            time.sleep(0.02)
        yield RuntimeHostMap(sock, map_file), f"http://127.0.0.1:{port}/"
    finally:
        terminate(proc, timeout=10)


def _served(url: str, host: str) -> tuple[int, str]:
    resp = httpx.get(url, headers={"Host": host})
    return resp.status_code, resp.text


def test_apply_is_idempotent_and_served_at_once(haproxy):
    runtime, url = haproxy
    assert runtime.apply(host_map(_state(3))) is Outcome.CREATED
    assert runtime.apply(host_map(_state(3))) is Outcome.UNCHANGED
    assert _served(url, "s2.localhost") == (200, "site-s2|static|/srv/s2|-|-")
    assert runtime.apply(host_map(_state(2))) is Outcome.UPDATED
    assert _served(url, "s2.localhost")[0] == 404
    assert runtime.observe() == host_map(_state(2))


def test_a_large_change_is_swapped_whole_and_the_file_matches(haproxy):
    runtime, url = haproxy
    runtime.apply(host_map(_state(2)))
    desired = host_map(_state(3000, root="/other"))
    assert runtime.apply(desired) is Outcome.UPDATED
    assert runtime.observe() == desired
    assert _served(url, "s2999.localhost") == (200, "site-s2999|static|/other/s2999|-|-")
    assert _served(url, "s0.localhost") == (200, "site-s0|static|/other/s0|-|-")
    lines = runtime.map_path.read_text().splitlines()[1:]
    assert dict(line.split(" ", 1) for line in lines) == desired


def test_one_change_at_3000_hosts_is_a_single_command(haproxy, monkeypatch):
    runtime, url = haproxy
    runtime.apply(host_map(_state(3000)))
    calls: list[str] = []
    real = runtime.call
    monkeypatch.setattr(runtime, "call", lambda c: calls.append(c) or real(c))
    runtime.apply(host_map(_state(3001)))
    assert [c.split()[0:2] for c in calls] == [["show", "map"], ["add", "map"]]
    assert _served(url, "s3000.localhost")[0] == 200


def test_one_site_is_applied_by_its_hosts_alone(haproxy, monkeypatch):
    runtime, url = haproxy
    runtime.apply(host_map(_state(3000)))
    assert runtime.get("s5.localhost") == "site-s5|static|/srv/s5|-|-"
    assert runtime.get("nobody.localhost") is None
    calls: list[str] = []
    real = runtime.call
    monkeypatch.setattr(runtime, "call", lambda c: calls.append(c) or real(c))
    desired = host_map(_state(3001))
    assert runtime.apply_hosts(desired, ["s3000.localhost"]) is Outcome.CREATED
    assert [c.split()[0:2] for c in calls] == [["get", "map"], ["add", "map"]]
    assert _served(url, "s3000.localhost")[0] == 200
    del desired["s7.localhost"]
    assert runtime.apply_hosts(desired, ["s7.localhost"]) is Outcome.UPDATED
    assert _served(url, "s7.localhost")[0] == 404
    assert runtime.apply_hosts(desired, ["s7.localhost"]) is Outcome.UNCHANGED
    assert runtime.observe() == desired


def test_the_map_file_has_one_writer_at_a_time_across_processes(haproxy):
    """Another process holding the file's lock (an API process and a worker both change the
    map) holds the write back until it lets go: a later write never lands under an older."""
    runtime, _ = haproxy
    runtime.apply(host_map(_state(1)))
    other = subprocess.Popen(
        ["flock", str(runtime.lock_path), "sleep", "1"], start_new_session=True
    )
    try:
        wait_for(lambda: _lock_held(runtime.lock_path), "the other process to hold the lock")
        started = time.monotonic()
        assert runtime.apply(host_map(_state(2))) is Outcome.UPDATED  # served at once...
        assert time.monotonic() - started > 0.3  # ...its file written once the other let go
        assert other.wait(timeout=5) == 0
    finally:
        terminate(other, timeout=5)
    assert "s1.localhost" in runtime.map_path.read_text()


def _lock_held(path: Path) -> bool:
    with path.open("a") as probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(probe, fcntl.LOCK_UN)
        return False
