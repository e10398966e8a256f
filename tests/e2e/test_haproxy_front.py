"""A real control plane with HOSTPLANE_EDGE_FRONT=haproxy: its HAProxy answers on the edge's
ports from its runtime host map, its Caddy behind it on a unix socket; sites created and
destroyed live, drift clean, a plane restart that adopts both and never stops answering,
and `hostctl regenerate` rebuilding the front from the database alone. A site step (create,
destroy, a custom domain's addition and removal) changes its own site's hosts alone."""

from __future__ import annotations

import json
import os
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hostplane.providers.edge import ROUTE_HEADER
from hostplane.providers.haproxy.runtime import RuntimeHostMap
from tests.e2e.harness import ControlPlane, wait_gone
from tests.services_pebble import PrivatePebble

# The names resolve to loopback, where the front (and so Pebble's validation) is.
PLATFORM_IP = "127.0.0.1"


@pytest.fixture(scope="module")
def acme_plane(
    tmp_path_factory: pytest.TempPathFactory, powerdns: Any
) -> Iterator[tuple[ControlPlane, PrivatePebble]]:
    cp = ControlPlane(tmp_path_factory.mktemp("front") / "data")
    # Pebble validates HTTP-01 on the edge's port, where HAProxy answers in front of Caddy.
    pebble = PrivatePebble(http_port=cp.edge_port, dns_server=powerdns.resolver).start()
    cp.extra_env.update(
        {
            "HOSTPLANE_EDGE_FRONT": "haproxy",
            "HOSTPLANE_DNS_RESOLVERS": powerdns.resolver,
            "HOSTPLANE_PUBLIC_IPS": PLATFORM_IP,
            "HOSTPLANE_DNS_ALLOW_PRIVATE": "true",
            "HOSTPLANE_ACME_DIRECTORY": pebble.directory,
            "HOSTPLANE_ACME_CA_BUNDLE": str(pebble.tls_cert),
        }
    )
    try:
        cp.start()
        yield cp, pebble
    finally:
        cp.stop()
        cp.clean_host()
        pebble.stop()


@pytest.fixture(scope="module")
def plane(acme_plane: tuple[ControlPlane, PrivatePebble]) -> ControlPlane:
    return acme_plane[0]


def _hosts(cp: ControlPlane) -> RuntimeHostMap:
    return RuntimeHostMap(
        cp.run_dir / "edge" / "haproxy.sock", cp.front_config.parent / "hosts.map"
    )


def _create(cp: ControlPlane, name: str) -> dict:
    with cp.api() as api:
        r = api.post("/v1/sites", json={"name": name, "type": "static"})
    assert r.status_code == 202, r.text
    op = cp.wait_operation(r.json()["operation"]["id"])
    assert op["status"] == "SUCCEEDED", op
    return op


def _destroy(cp: ControlPlane, name: str) -> None:
    with cp.api() as api:
        r = api.delete(f"/v1/sites/{name}")
    assert r.status_code == 202, r.text
    assert cp.wait_operation(r.json()["operation"]["id"])["status"] == "SUCCEEDED"


def _https_head(cp: ControlPlane, host: str, cadata: str) -> tuple[str, dict[str, Any]]:
    """The head of GET / over HTTPS from the front for `host`, its chain verified against
    `cadata`, and the certificate presented."""
    context = ssl.create_default_context(cadata=cadata)
    with (
        socket.create_connection(("127.0.0.1", cp.https_port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
        peer = tls.getpeercert()
    return data.decode(errors="replace").split("\r\n\r\n")[0], dict(peer or {})


def _uid(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


def test_a_static_site_is_served_by_haproxy_in_front_of_caddy(plane):
    cp = plane
    name = f"front-{uuid.uuid4().hex[:6]}"
    op = _create(cp, name)
    assert [s["name"] for s in op["steps"] if s["phase"] == "apply"] == ["files", "edge", "confirm"]
    page = cp.edge_get(f"{name}.localhost")
    assert page.status_code == 200 and f"<h1>{name}</h1>" in page.text
    assert page.headers[ROUTE_HEADER] == f"site-{name}"
    # The site is a line of HAProxy's map; Caddy's config names no site at all.
    assert (
        _hosts(cp).get(
            f"{name}.localhost",
        )
        is not None
    )
    servers = cp.caddy_config()["apps"]["http"]["servers"]
    assert list(servers) == ["hostplane-behind"]
    assert servers["hostplane-behind"]["listen"] == [f"unix/{cp.run_dir / 'edge' / 'behind.sock'}"]
    front = cp.front_pid()
    assert front is not None and _uid(front) == _uid(cp.edge_pid() or 0) != 0
    assert cp.edge_get("nobody-here.localhost").status_code == 404


def test_a_site_created_and_destroyed_live(plane):
    cp = plane
    name = f"live-{uuid.uuid4().hex[:6]}"
    assert cp.edge_get(f"{name}.localhost").status_code == 404
    _create(cp, name)
    assert cp.edge_get(f"{name}.localhost").status_code == 200
    assert _map_file_says(cp, f"{name}.localhost", present=True)
    _destroy(cp, name)
    assert cp.edge_get(f"{name}.localhost").status_code == 404
    assert _hosts(cp).get(f"{name}.localhost") is None
    assert _map_file_says(cp, f"{name}.localhost", present=False)


def _map_file_says(cp: ControlPlane, host: str, *, present: bool) -> bool:
    """The map file HAProxy loads at its next start follows the running map (written in the
    background, within a second)."""
    path, deadline = cp.front_config.parent / "hosts.map", time.monotonic() + 5
    while (f"\n{host} " in path.read_text()) != present:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_custom_domain_is_routed_and_removed_by_its_site_s_hosts_alone(acme_plane, powerdns):
    """Its certificate too: issued by ACME HTTP-01 answered through the front, presented by
    HAProxy for its name (verified against Pebble's root), gone with the domain."""
    cp, pebble = acme_plane
    name, other = f"dom-{uuid.uuid4().hex[:6]}", f"oth-{uuid.uuid4().hex[:6]}"
    zone = f"z{uuid.uuid4().hex[:8]}.test"
    domain = f"www.{zone}"
    powerdns.zone(zone)
    powerdns.records(zone, domain, "A", [PLATFORM_IP])
    _create(cp, name)
    _create(cp, other)
    hosts = _hosts(cp)
    before = hosts.observe()

    added = cp.cli("domain", "add", name, domain, "--wait")
    assert added.returncode == 0, added.stdout + added.stderr
    assert f"{domain} ACTIVE" in added.stdout
    answer = cp.edge_get(domain)
    assert answer.status_code == 200 and answer.headers[ROUTE_HEADER] == f"site-{name}"
    assert hosts.observe() == {**before, domain: before[f"{name}.localhost"]}
    with cp.api() as api:
        health = api.get(f"/v1/sites/{name}/domains/{domain}/certificate").json()
    assert health["healthy"] and health["served_fingerprint"], health
    head, peer = _https_head(cp, domain, pebble.root_ca())
    assert head.startswith("HTTP/1.1 200") and f"site-{name}" in head
    assert ("DNS", domain) in peer["subjectAltName"]

    removed = cp.cli("domain", "remove", name, domain, "--wait")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert cp.edge_get(domain).status_code == 404
    assert cp.edge_get(f"{other}.localhost").status_code == 200
    assert hosts.observe() == before
    assert _map_file_says(cp, domain, present=False)
    with pytest.raises(ssl.SSLError):  # no certificate of Pebble's for it any more
        _https_head(cp, domain, pebble.root_ca())
    drift = cp.cli("drift", "--json")
    assert drift.returncode == 0 and json.loads(drift.stdout) == [], drift.stdout + drift.stderr


def test_drift_is_clean(plane):
    cp = plane
    _create(cp, f"drift-{uuid.uuid4().hex[:6]}")
    drift = cp.cli("drift", "--json")
    assert drift.returncode == 0 and json.loads(drift.stdout) == [], drift.stdout + drift.stderr


def test_a_plane_restart_adopts_the_front_and_traffic_is_answered_meanwhile(plane):
    cp = plane
    name = f"calm-{uuid.uuid4().hex[:6]}"
    _create(cp, name)
    front, caddy = cp.front_pid(), cp.edge_pid()
    answers: list[int] = []
    done = threading.Event()

    def visit() -> None:
        with httpx.Client(timeout=5) as client:
            while not done.is_set():
                try:
                    r = client.get(
                        f"http://127.0.0.1:{cp.edge_port}/", headers={"Host": f"{name}.localhost"}
                    )
                    answers.append(r.status_code)
                except httpx.HTTPError:
                    answers.append(0)

    visitor = threading.Thread(target=visit, daemon=True)
    visitor.start()
    try:
        cp.stop(edge=False)  # SIGTERM: the plane goes, its edge stays
        served_while_down = len(answers)
        cp.start()
        _create(cp, f"after-{uuid.uuid4().hex[:6]}")  # the restarted plane drives the front
    finally:
        done.set()
        visitor.join(10)
    assert (cp.front_pid(), cp.edge_pid()) == (front, caddy)
    assert "haproxy.adopted" in cp.log_path.read_text()
    assert served_while_down > 0 and len(answers) > served_while_down
    assert set(answers) == {200}, {code: answers.count(code) for code in set(answers)}


def test_regenerate_rebuilds_the_front_from_the_database_alone(plane):
    cp = plane
    name = f"regen-{uuid.uuid4().hex[:6]}"
    _create(cp, name)
    hosts = _hosts(cp)
    # Wipe the running map and Caddy's config behind the control plane's back.
    assert hosts.call(f"clear map {hosts.map_path}").strip() == ""
    with cp.caddy_admin() as admin:
        empty = {"admin": cp.caddy_config()["admin"], "apps": {}}
        assert admin.post("/load", json=empty).status_code == 200
    assert cp.edge_get(f"{name}.localhost").status_code == 404
    drift = json.loads(cp.cli("drift", "--json").stdout)
    assert drift, "the wiped front is seen as drift"

    result = cp.cli("regenerate", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["outcome"] == "updated"
    assert cp.edge_get(f"{name}.localhost").status_code == 200
    assert cp.edge_get("nobody.localhost").status_code == 404
    assert json.loads(cp.cli("drift", "--json").stdout) == []


def test_the_front_is_switched_to_caddy_and_back(plane):
    cp = plane
    name = f"switch-{uuid.uuid4().hex[:6]}"
    _create(cp, name)
    front = cp.front_pid()
    assert front is not None
    cp.stop(edge=False)
    cp.extra_env["HOSTPLANE_EDGE_FRONT"] = "caddy"
    try:
        cp.start()
        wait_gone(front, "the HAProxy left from the haproxy front")
        assert cp.front_pid() is None
        assert cp.edge_get(f"{name}.localhost").status_code == 200
        assert "hostplane" in cp.caddy_config()["apps"]["http"]["servers"]  # Caddy is the edge
        cp.stop(edge=False)
    finally:
        cp.extra_env["HOSTPLANE_EDGE_FRONT"] = "haproxy"
    cp.start()
    assert cp.front_pid() not in (None, front)
    assert cp.edge_get(f"{name}.localhost").status_code == 200
    assert list(cp.caddy_config()["apps"]["http"]["servers"]) == ["hostplane-behind"]


FRONT_CHECKS = [
    "haproxy binary",
    "haproxy process",
    "haproxy runtime socket",
    "haproxy host map",
    "caddy behind",
]


def _doctor(cp: ControlPlane) -> tuple[int, dict[str, str]]:
    """hostctl doctor's exit code, and its line for each of the front's checks."""
    result = cp.cli("doctor")
    lines = {line[5:].split(":")[0]: line for line in result.stdout.splitlines()}
    return result.returncode, {name: lines[name] for name in FRONT_CHECKS}


def test_doctor_checks_the_front_and_names_what_is_wrong(plane):
    cp = plane
    name = f"doc-{uuid.uuid4().hex[:6]}"
    _create(cp, name)
    host = f"{name}.localhost"
    assert _map_file_says(cp, host, present=True)
    code, lines = _doctor(cp)
    assert all(line.startswith("ok  ") for line in lines.values()), lines
    assert "HAProxy version" in lines["haproxy binary"]
    assert f"pid {cp.front_pid()} runs" in lines["haproxy process"]
    assert f"pid {cp.front_pid()}" in lines["haproxy runtime socket"]

    # A host deleted from the running map behind the plane's back: the file still has it.
    hosts = _hosts(cp)
    value = hosts.get(host)
    assert hosts.call(f"del map {hosts.map_path} {host}").strip() == ""
    try:
        code, lines = _doctor(cp)
    finally:
        assert hosts.call(f"add map {hosts.map_path} {host} {value}").strip() == ""
    drifted = lines["haproxy host map"]
    assert drifted.startswith("warn") and f"1 only in the file: {host}" in drifted, drifted
    assert "hostctl regenerate" in drifted
    assert [n for n, line in lines.items() if not line.startswith("ok  ")] == ["haproxy host map"]

    # A pid file naming another process: not ours, said with the fix (exit 1).
    pid_file = cp.front_config.parent / "haproxy.pid"
    saved = pid_file.read_text()
    pid_file.write_text(f"{os.getpid()}\n")
    try:
        code, lines = _doctor(cp)
    finally:
        pid_file.write_text(saved)
    wrong = lines["haproxy process"]
    assert code == 1 and wrong.startswith("FAIL") and "not the HAProxy this plane started" in wrong
    assert [n for n, line in lines.items() if not line.startswith("ok  ")] == ["haproxy process"]
    assert all(line.startswith("ok  ") for line in _doctor(cp)[1].values())
