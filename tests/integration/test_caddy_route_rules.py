"""A route's own rules at a real, unprivileged Caddy: denied paths answer 404 however they are
spelled (the installer of a real PHP-FPM pool never runs), and a route in maintenance answers
503 without ever reaching its upstream."""

from __future__ import annotations

import http.server
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hostplane.providers.caddy.edge import CaddyEdge, CaddyEdgeConfig
from hostplane.providers.caddy.process import CaddyProcess, EdgeProcessConfig
from hostplane.providers.caddy.render import MAINTENANCE_BODY
from hostplane.providers.edge import EdgeRoute, EdgeState
from hostplane.providers.local import users
from hostplane.providers.local.fpm import PhpFpmPools
from hostplane.providers.runtime import FastCGI, HTTPProxy
from tests.e2e.harness import free_port, host_tmpdir
from tests.isolation.helpers import raw_get

DENIED = ("/wp-admin/install.php", "/wp-admin/setup-config.php")


@dataclass
class Rig:
    edge: CaddyEdge
    port: int
    php: FastCGI
    upstream: HTTPProxy
    hits: list[str]


def _php_site(root: Path, run: Path, state: Path) -> Iterator[FastCGI]:
    site = f"rules-{uuid.uuid4().hex[:6]}"
    user = f"hp-{site}"
    site_root = root / "sites" / site
    owner = users.Owner(f"hptest{uuid.uuid4().hex[:6]}")
    users.ensure_user(user, site_root, owner=owner, site=site)
    (site_root / "public" / "wp-admin").mkdir(parents=True)
    (site_root / "tmp").mkdir()
    for path, text in {"index.php": "INDEX", "wp-admin/install.php": "INSTALLER"}.items():
        (site_root / "public" / path).write_text(f"<?php echo '{text}';\n")
    (site_root / "public" / "wp-admin" / "other.php").write_text("<?php echo 'OTHER';\n")
    pools = PhpFpmPools("php-fpm8.2", run / "php-fpm", state / "php-fpm", 2)
    pools.ensure(site, user, site_root)
    try:
        yield FastCGI(str(site_root / "public"), f"unix/{pools.paths(site).socket}")
    finally:
        pools.remove(site)
        users.remove_user(user, owner=owner, site=site)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    base = tmp_path_factory.mktemp("rules")
    host, state = host_tmpdir(), base / "state"
    port = free_port()
    caddy = CaddyProcess(
        EdgeProcessConfig(
            "caddy",
            state,
            host / "edge",
            host / "run" / "edge" / "admin.sock",
            ports=(("127.0.0.1", port, "the test's port"),),
        )
    )
    caddy.start()
    edge = CaddyEdge(
        CaddyEdgeConfig(
            admin_url=caddy.admin_url,
            http_listen=f"127.0.0.1:{port}",
            confirm_url=f"http://127.0.0.1:{port}",
            state_dir=state,
        )
    )
    hits: list[str] = []

    class Upstream(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"UPSTREAM")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    php = _php_site(host, host / "run", state)
    try:
        yield Rig(edge, port, next(php), HTTPProxy(f"127.0.0.1:{server.server_port}"), hits)
    finally:
        php.close()
        server.shutdown()
        edge.close()
        caddy.stop()


SPELLINGS = [
    "{p}",
    "{p}/",
    "{p}/extra",
    "{p}?step=2",
    "{upper}",
    "/wp-admin//{name}",
    "//wp-admin/{name}",
    "/wp-admin/./{name}",
    "/x/../wp-admin/{name}",
    "/wp-admin/{escaped}",
    "/wp-admin%2f{name}",
    "{p}%2fextra",
]


def test_denied_paths_answer_404_however_they_are_spelled(rig: Rig):
    route = EdgeRoute("site-wp", ("wp.test",), rig.php, denied_paths=DENIED)
    rig.edge.apply(EdgeState((route,)))
    assert raw_get(rig.port, "wp.test", "/index.php").body.endswith(b"INDEX")
    assert raw_get(rig.port, "wp.test", "/wp-admin/other.php").body.endswith(b"OTHER")
    answers = {}
    for path in DENIED:
        name = path.rsplit("/", 1)[1]
        escaped = "".join(f"%{ord(c):02x}" if c in "ip" else c for c in name)
        for spelling in SPELLINGS:
            target = spelling.format(p=path, upper=path.upper(), name=name, escaped=escaped)
            answer = raw_get(rig.port, "wp.test", target)
            assert b"INSTALLER" not in answer.body, target
            answers[target] = answer.status
    assert set(answers.values()) == {404}, answers
    open_route = EdgeRoute("site-wp", ("wp.test",), rig.php)
    rig.edge.apply(EdgeState((open_route,)))  # without the rule, the installer answers
    assert raw_get(rig.port, "wp.test", DENIED[0]).body.endswith(b"INSTALLER")


def test_a_route_in_maintenance_answers_503_and_never_reaches_its_upstream(rig: Rig):
    route = EdgeRoute("site-m", ("m.test",), rig.upstream, maintenance=True)
    rig.edge.apply(EdgeState((route,)))
    rig.hits.clear()
    for target in ("/", "/index.php", "/wp-login.php?x=1", "/a/b/c"):
        answer = raw_get(rig.port, "m.test", target)
        assert answer.status == 503, target
        assert answer.headers["x-hostplane-route"] == "site-m"
        assert answer.headers["retry-after"] == "300"
        assert answer.body.decode().endswith(MAINTENANCE_BODY)
    assert rig.hits == []
    rig.edge.apply(EdgeState((EdgeRoute("site-m", ("m.test",), rig.upstream),)))
    answer = raw_get(rig.port, "m.test", "/")
    assert (answer.status, answer.body, rig.hits) == (200, b"UPSTREAM", ["/"])
