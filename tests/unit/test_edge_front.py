"""The setting that chooses what answers on the edge's ports, and the edge it gives the plane."""

from __future__ import annotations

from pathlib import Path

import pytest

from hostplane.providers.caddy.edge import CaddyEdge
from hostplane.providers.haproxy.edge import HaproxyEdge
from hostplane.services import edge_provider
from hostplane.settings import Settings


def test_haproxy_fronts_the_managed_caddy_unless_told(monkeypatch):
    monkeypatch.delenv("HOSTPLANE_EDGE_FRONT", raising=False)
    monkeypatch.delenv("HOSTPLANE_CADDY_ADMIN_URL", raising=False)
    settings = Settings.load()
    assert settings.edge_front == "haproxy"
    edge = edge_provider(settings)
    assert isinstance(edge, HaproxyEdge)
    edge.close()
    told = Settings.load(edge_front="caddy")
    assert told.edge_front == "caddy"
    edge = edge_provider(told)
    assert isinstance(edge, CaddyEdge)
    edge.close()


def test_auto_is_caddy_in_front_of_an_operators_caddy(monkeypatch):
    monkeypatch.delenv("HOSTPLANE_EDGE_FRONT", raising=False)
    monkeypatch.setenv("HOSTPLANE_CADDY_ADMIN_URL", "http://127.0.0.1:2019")
    settings = Settings.load()
    assert settings.edge_front == "caddy"
    monkeypatch.setenv("HOSTPLANE_EDGE_FRONT", "auto")
    assert Settings.load().edge_front == "caddy"
    monkeypatch.delenv("HOSTPLANE_CADDY_ADMIN_URL")
    assert Settings.load().edge_front == "haproxy"
    edge = edge_provider(settings)
    assert isinstance(edge, CaddyEdge)
    edge.close()


def test_auto_is_resolved_from_a_config_file_too(monkeypatch, tmp_path):
    monkeypatch.delenv("HOSTPLANE_EDGE_FRONT", raising=False)
    monkeypatch.delenv("HOSTPLANE_CADDY_ADMIN_URL", raising=False)
    config = tmp_path / "hostplane.toml"
    config.write_text('caddy_admin_url = "unix:///run/caddy/admin.sock"\n')
    assert Settings.load(config).edge_front == "caddy"
    config.write_text('edge_front = "auto"\n')
    assert Settings.load(config).edge_front == "haproxy"


def test_haproxy_in_front_of_the_managed_caddy_on_its_own_sockets(monkeypatch):
    monkeypatch.setenv("HOSTPLANE_EDGE_FRONT", "haproxy")
    settings = Settings.load(data_dir=Path("/d"), run_dir=Path("/r"), edge_https_port=0)
    edge = edge_provider(settings)
    assert isinstance(edge, HaproxyEdge)
    assert edge.behind_listen == "unix//r/edge/behind.sock"
    assert edge.hosts.socket_path == Path("/r/edge/haproxy.sock")
    assert edge.hosts.map_path == Path("/d/edge/haproxy/hosts.map")
    assert edge.challenges.map_path == Path("/d/edge/haproxy/challenges.map")
    assert edge.certificates is None  # no HTTPS port, no certificates
    assert edge.caddy.config.admin_url == "unix:///r/edge/admin.sock"
    edge.close()
    with_https = edge_provider(Settings.load(data_dir=Path("/d"), run_dir=Path("/r")))
    assert isinstance(with_https, HaproxyEdge) and with_https.certificates is not None
    with_https.close()


def test_haproxy_with_an_operators_caddy_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="unset HOSTPLANE_CADDY_ADMIN_URL"):
        Settings(caddy_admin_url="http://127.0.0.1:2019", edge_front="haproxy")
    with pytest.raises(ValueError, match="edge_front"):
        Settings(edge_front="nginx")
