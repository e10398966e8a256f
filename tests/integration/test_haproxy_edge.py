"""HaproxyEdge on real servers: HAProxy in front, Caddy behind; applied whole from an
EdgeState, observed and diffed, drift repaired, confirmed through the front."""

from __future__ import annotations

import hashlib
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostplane.providers.base import Outcome
from hostplane.providers.caddy.edge import CaddyEdge, CaddyEdgeConfig
from hostplane.providers.caddy.render import (
    DENIED_BODY,
    MAINTENANCE_BODY,
    NOT_FOUND_BODY,
    SUSPENDED_BODY,
)
from hostplane.providers.edge import (
    ACME_CHALLENGE_PATH,
    AcmeChallenge,
    EdgeCertificate,
    EdgeRoute,
    EdgeSlice,
    EdgeState,
)
from hostplane.providers.haproxy.certs import RuntimeCertificates
from hostplane.providers.haproxy.edge import HaproxyEdge
from hostplane.providers.haproxy.frontend import FrontendConfig, render_frontend
from hostplane.providers.haproxy.hostmap import render_file
from hostplane.providers.haproxy.runtime import RuntimeHostMap
from hostplane.providers.runtime import StaticFiles
from tests.e2e.harness import CaddyServer
from tests.integration.test_haproxy_certificates import _self_signed
from tests.integration.test_haproxy_hostmap import HAPROXY
from tests.services import free_port, terminate


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[tuple[HaproxyEdge, Path]]:
    sites = tmp_path / "sites"
    for name in ("a", "b"):
        (sites / name).mkdir(parents=True)
        (sites / name / "index.html").write_text(f"site {name}\n")
    made = tmp_path / "made"
    made.mkdir()
    (tmp_path / "certs").mkdir()
    default = tmp_path / "default.pem"
    default.write_text("".join(_self_signed(made, "default.invalid")))
    crt_list = tmp_path / "crt-list.txt"
    crt_list.write_text(f"{default}\n")
    bodies = {}
    for name, text in (
        ("not_found", NOT_FOUND_BODY),
        ("maintenance", MAINTENANCE_BODY),
        ("suspended", SUSPENDED_BODY),
        ("denied", DENIED_BODY),
    ):
        bodies[name] = tmp_path / f"{name}.body"
        bodies[name].write_text(text)
    port, https_port, behind = free_port(), free_port(), f"127.0.0.1:{free_port()}"
    config = FrontendConfig(
        admin_socket=tmp_path / "admin.sock",
        map_path=tmp_path / "hosts.map",
        challenges_map=tmp_path / "challenges.map",
        http_listen=f"127.0.0.1:{port}",
        https_listen=f"127.0.0.1:{https_port}",
        crt_list=crt_list,
        behind=behind,
        not_found_file=bodies["not_found"],
        maintenance_file=bodies["maintenance"],
        suspended_file=bodies["suspended"],
        denied_file=bodies["denied"],
    )
    config.map_path.write_text("")
    (tmp_path / "challenges.map").write_text("")
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(render_frontend(config))
    caddy = CaddyServer(tmp_path / "caddy")
    proc = subprocess.Popen(
        [HAPROXY, "-db", "-f", str(cfg)],
        stdout=(tmp_path / "haproxy.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    front = None
    try:
        deadline = time.monotonic() + 10
        while not config.admin_socket.exists():
            assert proc.poll() is None, (tmp_path / "haproxy.log").read_text()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        hosts = RuntimeHostMap(config.admin_socket, config.map_path)
        front = HaproxyEdge(
            CaddyEdge(
                CaddyEdgeConfig(
                    admin_url=caddy.admin_url,
                    http_listen=behind,
                    confirm_url=f"http://127.0.0.1:{port}",
                    state_dir=tmp_path / "edge",
                    confirm_timeout=5,
                    https_confirm=("127.0.0.1", https_port),
                )
            ),
            behind,
            hosts,
            RuntimeHostMap(config.admin_socket, tmp_path / "challenges.map"),
            RuntimeCertificates(hosts, tmp_path / "certs", crt_list),
        )
        yield front, sites
    finally:
        if front is not None:
            front.close()
        terminate(proc, timeout=10)
        caddy.stop()


def _fingerprint(pem: str) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def test_applied_observed_repaired_and_confirmed_through_the_front(edge):
    front, sites = edge
    cert, key = _self_signed(sites.parent / "made", "a.test")
    a = EdgeRoute("site-a", ("a.test",), StaticFiles(str(sites / "a")))
    b = EdgeRoute("site-b", ("b.test", "www.b.test"), StaticFiles(str(sites / "b")))
    state = EdgeState(
        (a, b),
        certificates=(EdgeCertificate("a.test", cert, key),),
        challenges=(AcmeChallenge("c.test", "tok", "tok.thumb"),),
    )
    assert front.apply(state) is Outcome.UPDATED
    front.confirm("a.test", "site-a")
    front.confirm("www.b.test", "site-b")
    assert front.get("b.test").text == "site b\n"
    assert front.get("c.test", ACME_CHALLENGE_PATH + "tok").text == "tok.thumb"
    assert front.served_certificate("a.test") == _fingerprint(cert)
    assert front.in_sync(state) == (True, frozenset({"site-a", "site-b"}))
    assert front.apply(state) is Outcome.UNCHANGED

    # Drift: an entry taken out of the running map by hand is seen and put back.
    front.hosts.call(f"del map {front.hosts.map_path} www.b.test")
    assert front.in_sync(state)[0] is False
    assert front.apply(state) is Outcome.UPDATED
    front.confirm("www.b.test", "site-b")

    smaller = EdgeState((a,))
    assert front.apply(smaller) is Outcome.UPDATED
    front.confirm_gone("b.test")
    assert front.observe() == ["site-a"]
    assert front.served_certificate("a.test") != _fingerprint(cert)
    assert front.in_sync(smaller) == (True, frozenset({"site-a"}))


def test_one_route_is_applied_by_its_hosts_alone(edge):
    """A slice changes its own route's hosts, certificates and challenges and nothing else:
    a host it names that another route holds stays that route's; the file follows."""
    front, sites = edge
    a_cert, a_key = _self_signed(sites.parent / "made", "a.test")
    a = EdgeRoute("site-a", ("a.test",), StaticFiles(str(sites / "a")))
    b = EdgeRoute("site-b", ("b.test", "www.b.test"), StaticFiles(str(sites / "b")))
    a_only = EdgeState((a,), certificates=(EdgeCertificate("a.test", a_cert, a_key),))
    assert front.apply(EdgeState((a, b), a_only.certificates)) is Outcome.UPDATED

    cert, key = _self_signed(sites.parent / "made", "shop.test")
    grown = EdgeRoute("site-b", ("b.test", "shop.test"), StaticFiles(str(sites / "b")))
    part = EdgeState(
        (grown,),
        certificates=(EdgeCertificate("shop.test", cert, key),),
        challenges=(AcmeChallenge("shop.test", "tok", "tok.thumb"),),
    )
    hosts = ("b.test", "shop.test", "www.b.test", "a.test")  # a.test is site-a's: kept
    assert front.apply_slice(EdgeSlice("site-b", part, hosts)) is Outcome.UPDATED
    front.confirm("shop.test", "site-b")
    front.confirm_gone("www.b.test")
    front.confirm("a.test", "site-a")
    assert front.get("shop.test", ACME_CHALLENGE_PATH + "tok").text == "tok.thumb"
    assert front.served_certificate("shop.test") == _fingerprint(cert)
    whole = EdgeState((a, grown), a_only.certificates + part.certificates, part.challenges)
    assert front.in_sync(whole) == (True, frozenset({"site-a", "site-b"}))
    assert front.apply_slice(EdgeSlice("site-b", part, hosts)) is Outcome.UNCHANGED

    front.flush()  # written in the background otherwise
    assert front.hosts.map_path.read_text() == render_file(front.hosts.observe())
    assert "shop.test site-b|" in front.hosts.map_path.read_text()

    # Unrouted: its hosts, certificate and challenge go; site-a's route stays.
    assert front.apply_slice(EdgeSlice("site-b", EdgeState(()), hosts)) is Outcome.DELETED
    front.confirm_gone("b.test")
    front.confirm_gone("shop.test")
    assert front.in_sync(a_only) == (True, frozenset({"site-a"}))
    assert front.served_certificate("shop.test") != _fingerprint(cert)
    assert front.served_certificate("a.test") == _fingerprint(a_cert)


def test_a_wildcard_serves_one_label_below_it_and_an_exact_host_wins(edge):
    """As Caddy's host matcher: `*.w.test` serves `x.w.test`, not `w.test` nor `y.x.w.test`;
    a host of its own in the map is looked up first."""
    front, sites = edge
    a = EdgeRoute("site-a", ("a.w.test",), StaticFiles(str(sites / "a")))
    b = EdgeRoute("site-b", ("*.w.test",), StaticFiles(str(sites / "b")))
    assert front.apply(EdgeState((a, b))) is Outcome.UPDATED
    front.confirm("x.w.test", "site-b")
    assert front.get("X.W.test").text == "site b\n"
    assert front.get("a.w.test").text == "site a\n"
    for host in ("w.test", "y.x.w.test", "xw.test"):
        assert front.get(host).status_code == 404, host
    assert front.in_sync(EdgeState((a, b))) == (True, frozenset({"site-a", "site-b"}))
