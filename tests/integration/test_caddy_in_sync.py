"""The Caddy edge's in_sync at a real Caddy: true for the state it runs, without a parse when
it loaded that state itself or found it before (the same bytes for the same state), and false
as soon as either the running config or the state differs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hostplane.providers.caddy.edge import CaddyEdge, CaddyEdgeConfig
from hostplane.providers.edge import EdgeRoute, EdgeState
from hostplane.providers.runtime import HTTPProxy, StaticFiles
from tests.e2e.harness import CaddyServer, free_port

ROUTES = (
    EdgeRoute("site-a", ("a.localhost",), StaticFiles("/srv/a")),
    EdgeRoute("site-b", ("b.localhost", "www.b.test"), HTTPProxy("unix//run/b.sock")),
    # Its maintenance page is HTML: Caddy's answer escapes its < and > as Go does.
    EdgeRoute("site-m", ("m.localhost",), StaticFiles("/srv/m"), maintenance=True),
)
IDS = frozenset({"site-a", "site-b", "site-m"})


def _no_parse(body: bytes) -> None:
    raise AssertionError("parsed the running config")


@pytest.fixture
def caddy(tmp_path: Path) -> Iterator[tuple[CaddyServer, CaddyEdge]]:
    server = CaddyServer(tmp_path / "caddy")
    port = free_port()
    edge = CaddyEdge(
        CaddyEdgeConfig(
            admin_url=server.admin_url,
            http_listen=f"127.0.0.1:{port}",
            confirm_url=f"http://127.0.0.1:{port}",
            state_dir=tmp_path / "edge",
        )
    )
    try:
        yield server, edge
    finally:
        edge.close()
        server.stop()


def test_in_sync_follows_the_running_config_and_the_state(
    caddy: tuple[CaddyServer, CaddyEdge], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, edge = caddy
    state = EdgeState(ROUTES)
    edge.apply(state)
    # Just loaded by this edge: in sync without parsing what Caddy answers (the digest of
    # what it loaded, as Caddy encodes it), and again when asked again.
    with monkeypatch.context() as patch:
        patch.setattr("hostplane.providers.caddy.edge._parsed", _no_parse)
        assert edge.in_sync(state) == (True, IDS)
        assert edge.in_sync(EdgeState(ROUTES)) == (True, IDS)

    # A state that differs in one route: not in sync, whatever was asked before.
    moved = EdgeState((ROUTES[0], EdgeRoute("site-b", ("b.localhost",), ROUTES[1].upstream)))
    assert edge.in_sync(moved)[0] is False
    assert edge.in_sync(state) == (True, IDS)  # compared in full, then remembered
    with monkeypatch.context() as patch:
        patch.setattr("hostplane.providers.caddy.edge._parsed", _no_parse)
        assert edge.in_sync(state) == (True, IDS)

    # The running config changed behind the plane's back: not in sync for the same state.
    config = httpx.get(f"{server.admin_url}/config/").json()
    routes = config["apps"]["http"]["servers"]["hostplane"]["routes"]
    routes[0]["match"][0]["host"].append("stray.test")
    loaded = httpx.post(
        f"{server.admin_url}/load",
        content=json.dumps(config),
        headers={"Content-Type": "application/json"},
    )
    assert loaded.status_code == 200, loaded.text
    assert edge.in_sync(state) == (False, IDS)
    edge.apply(state)
    assert edge.in_sync(state) == (True, IDS)
