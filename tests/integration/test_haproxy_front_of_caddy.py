"""Design c of issue 14 end to end on real servers: HAProxy's host map in front, Caddy behind
serving each site from the headers HAProxy set; a change is one runtime command."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hostplane.providers.caddy.behind import render_behind
from hostplane.providers.caddy.render import (
    DENIED_BODY,
    MAINTENANCE_BODY,
    NOT_FOUND_BODY,
    SUSPENDED_BODY,
)
from hostplane.providers.edge import (
    ACME_CHALLENGE_PATH,
    INSTALLER_HEADER,
    ROUTE_HEADER,
    SUSPENDED,
    AcmeChallenge,
    EdgeRoute,
    EdgeState,
)
from hostplane.providers.haproxy.frontend import FrontendConfig, render_frontend
from hostplane.providers.haproxy.hostmap import challenge_map, host_map
from hostplane.providers.haproxy.runtime import RuntimeHostMap
from hostplane.providers.runtime import FastCGI, HTTPProxy, StaticFiles
from tests.e2e.harness import CaddyServer
from tests.integration.test_haproxy_hostmap import HAPROXY
from tests.services import free_port, terminate

KEY = "installer-key-1"
GUARD = ("/wp-admin/install.php",)


class _Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"proxied {self.path} hp={self.headers.get('X-Hp-Root')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[tuple[RuntimeHostMap, str, Path, RuntimeHostMap]]:
    sites = tmp_path / "sites"
    for name in ("a", "b", "w"):
        (sites / name).mkdir(parents=True)
        (sites / name / "index.html").write_text(f"site {name}\n")
    (sites / "w" / "wp-admin").mkdir()
    (sites / "w" / "wp-admin" / "install.php").write_text("installer\n")
    (sites / "php").mkdir()
    (sites / "php" / "index.php").write_text(
        '<?php echo "php ", $_SERVER["DOCUMENT_ROOT"], " ", $_SERVER["HTTP_X_HP_ROOT"] ?? "none";'
    )
    fpm_sock = tmp_path / "fpm.sock"
    fpm_conf = tmp_path / "fpm.conf"
    fpm_conf.write_text(
        f"[global]\nerror_log = {tmp_path / 'fpm.log'}\n"
        f"[www]\nlisten = {fpm_sock}\npm = static\npm.max_children = 1\n"
    )
    fpm = subprocess.Popen(
        [shutil.which("php-fpm8.2") or "php-fpm8.2", "-R", "-F", "-n", "-y", str(fpm_conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    caddy = CaddyServer(tmp_path / "caddy")
    behind_port, port = free_port(), free_port()
    httpx.post(
        f"{caddy.admin_url}/load",
        json=render_behind(
            admin_listen=f"127.0.0.1:{caddy.admin_port}", listen=f"127.0.0.1:{behind_port}"
        ),
    ).raise_for_status()
    bodies = {}
    for name, text in (
        ("not_found", NOT_FOUND_BODY),
        ("maintenance", MAINTENANCE_BODY),
        ("suspended", SUSPENDED_BODY),
        ("denied", DENIED_BODY),
    ):
        bodies[name] = tmp_path / f"{name}.body"
        bodies[name].write_text(text)
    config = FrontendConfig(
        admin_socket=tmp_path / "admin.sock",
        map_path=tmp_path / "hosts.map",
        challenges_map=tmp_path / "challenges.map",
        http_listen=f"127.0.0.1:{port}",
        behind=f"127.0.0.1:{behind_port}",
        not_found_file=bodies["not_found"],
        maintenance_file=bodies["maintenance"],
        suspended_file=bodies["suspended"],
        denied_file=bodies["denied"],
        denied_paths=GUARD,
        installer_key=KEY,
    )
    config.map_path.write_text("")
    assert config.challenges_map is not None
    config.challenges_map.write_text("")
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(render_frontend(config))
    check = subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    proc = subprocess.Popen(
        [HAPROXY, "-db", "-f", str(cfg)],
        stdout=(tmp_path / "haproxy.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while not (config.admin_socket.exists() and fpm_sock.exists()):
            assert proc.poll() is None, (tmp_path / "haproxy.log").read_text()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        runtime = RuntimeHostMap(config.admin_socket, config.map_path)
        runtime.apply(
            host_map(
                EdgeState(
                    (
                        EdgeRoute(
                            "site-a", ("a.test", "www.a.test"), StaticFiles(str(sites / "a"))
                        ),
                        EdgeRoute(
                            "site-w",
                            ("w.test",),
                            StaticFiles(str(sites / "w")),
                            denied_paths=GUARD,
                            installer_key=KEY,
                        ),
                        EdgeRoute(
                            "site-p", ("p.test",), HTTPProxy(f"127.0.0.1:{upstream.server_port}")
                        ),
                        EdgeRoute(
                            "site-php",
                            ("php.test",),
                            FastCGI(str(sites / "php"), f"unix/{fpm_sock}"),
                        ),
                        EdgeRoute(
                            "site-m", ("m.test",), StaticFiles(str(sites / "a")), maintenance=True
                        ),
                        EdgeRoute(
                            "site-s",
                            ("s.test",),
                            StaticFiles(str(sites / "a")),
                            maintenance=True,
                            maintenance_reason=SUSPENDED,
                        ),
                    )
                )
            )
        )
        challenges = RuntimeHostMap(config.admin_socket, config.challenges_map)
        yield runtime, f"http://127.0.0.1:{port}", sites, challenges
    finally:
        terminate(proc, timeout=10)
        terminate(fpm, timeout=10)
        caddy.stop()
        upstream.shutdown()


def _get(url: str, host: str, path: str = "/", **headers: str) -> httpx.Response:
    return httpx.get(url + path, headers={"Host": host, **headers})


def test_each_kind_is_served_from_the_map_with_its_route(edge):
    _, url, sites, _ = edge
    for host in ("a.test", "www.a.test", "A.TEST:8080"):
        resp = _get(url, host)
        assert (resp.status_code, resp.text) == (200, "site a\n")
        assert resp.headers[ROUTE_HEADER] == "site-a"
    resp = _get(url, "p.test", "/x?y=1")
    assert resp.text == "proxied /x?y=1 hp=None"  # the X-Hp-* headers stay at the edge
    assert resp.headers[ROUTE_HEADER] == "site-p"
    resp = _get(url, "php.test")
    assert (resp.status_code, resp.text) == (200, f"php {sites / 'php'} none")
    assert resp.headers[ROUTE_HEADER] == "site-php"


def test_unknown_hosts_maintenance_and_suspension_are_answered_at_the_front(edge):
    _, url, _, _ = edge
    resp = _get(url, "nobody.test")
    assert (resp.status_code, resp.text) == (404, NOT_FOUND_BODY)
    assert ROUTE_HEADER not in resp.headers
    resp = _get(url, "m.test")
    assert (resp.status_code, resp.text) == (503, MAINTENANCE_BODY)
    assert resp.headers["Retry-After"] == "300"
    assert resp.headers[ROUTE_HEADER] == "site-m"
    assert _get(url, "s.test").text == SUSPENDED_BODY


def test_a_client_cannot_choose_the_webroot(edge):
    _, url, sites, _ = edge
    resp = _get(
        url, "a.test", "/index.html", **{"X-Hp-Root": str(sites / "w"), "X-Hp-Kind": "static"}
    )
    assert resp.text == "site a\n"


@pytest.mark.parametrize(
    "path", ["/wp-admin/install.php", "/WP-ADMIN/Install.php", "/wp-admin/install.php/x"]
)
def test_the_installer_is_denied_without_the_key(edge, path):
    _, url, _, _ = edge
    resp = _get(url, "w.test", path)
    assert (resp.status_code, resp.text) == (404, DENIED_BODY)
    assert resp.headers[ROUTE_HEADER] == "site-w"
    assert (
        _get(url, "w.test", "/wp-admin/install.php", **{INSTALLER_HEADER: KEY}).text
        == "installer\n"
    )
    assert _get(url, "a.test", "/wp-admin/install.php").status_code == 404  # no such file there


def test_a_new_site_is_served_after_one_command(edge):
    runtime, url, sites, _ = edge
    desired = dict(runtime.observe())
    desired.update(
        host_map(EdgeState((EdgeRoute("site-b", ("b.test",), StaticFiles(str(sites / "b"))),)))
    )
    runtime.apply(desired)
    assert _get(url, "b.test").text == "site b\n"
    del desired["b.test"]
    runtime.apply(desired)
    assert _get(url, "b.test").status_code == 404


def test_acme_challenges_are_answered_first_for_any_host(edge):
    _, url, _, challenges = edge
    state = EdgeState(
        (),
        challenges=(
            AcmeChallenge("m.test", "tok-m", "tok-m.thumb"),
            AcmeChallenge("new.test", "tok-n", "tok-n.thumb"),
        ),
    )
    challenges.apply(challenge_map(state))
    resp = _get(url, "m.test", ACME_CHALLENGE_PATH + "tok-m")
    assert (resp.status_code, resp.text) == (200, "tok-m.thumb")  # in maintenance all the same
    assert _get(url, "new.test", ACME_CHALLENGE_PATH + "tok-n").text == "tok-n.thumb"
    # As a CA asks on an edge port that is not 80 (its Host names the port), in any case.
    assert _get(url, "New.TEST:8080", ACME_CHALLENGE_PATH + "tok-n").text == "tok-n.thumb"
    assert _get(url, "m.test", ACME_CHALLENGE_PATH + "other").status_code == 503
    assert _get(url, "new.test", ACME_CHALLENGE_PATH + "tok-m").status_code == 404
    challenges.apply({})
    assert _get(url, "new.test", ACME_CHALLENGE_PATH + "tok-n").status_code == 404
