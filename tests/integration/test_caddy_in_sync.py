"""The Caddy edge's in_sync at a real Caddy: true for the state it runs, asked again without a
parse (the same bytes for the same state), and false as soon as either the running config or
the state differs."""

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
)


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
    assert edge.in_sync(state) == (True, frozenset({"site-a", "site-b"}))

    # Asked again, unchanged: answered without parsing the running config again.
    def no_parse(body: bytes) -> None:
        raise AssertionError("parsed again")

    with monkeypatch.context() as patch:
        patch.setattr("hostplane.providers.caddy.edge._parsed", no_parse)
        assert edge.in_sync(EdgeState(ROUTES)) == (True, frozenset({"site-a", "site-b"}))

    # A state that differs in one route: not in sync, whatever was asked before.
    moved = EdgeState((ROUTES[0], EdgeRoute("site-b", ("b.localhost",), ROUTES[1].upstream)))
    assert edge.in_sync(moved)[0] is False
    assert edge.in_sync(state)[0] is True

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
    assert edge.in_sync(state) == (False, frozenset({"site-a", "site-b"}))
    edge.apply(state)
    assert edge.in_sync(state) == (True, frozenset({"site-a", "site-b"}))
