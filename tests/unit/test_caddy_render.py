"""The rendered Caddy config: whole, stable, admin kept, unknown hosts 404."""

from __future__ import annotations

from hostplane.domain.edge import ROUTE_HEADER, EdgeRoute
from hostplane.domain.sites import FastCGI, HTTPProxy, StaticFiles
from hostplane.providers.caddy.render import NOT_FOUND_BODY, render_config, route_ids


def _render(routes):
    return render_config(routes, admin_listen="127.0.0.1:2019", http_listen="127.0.0.1:18080")


def test_empty_config_keeps_admin_and_answers_404():
    config = _render([])
    assert config["admin"] == {"listen": "127.0.0.1:2019", "config": {"persist": False}}
    server = config["apps"]["http"]["servers"]["hostplane"]
    assert server["automatic_https"] == {"disable": True}
    assert server["listen"] == ["127.0.0.1:18080"]
    (catch_all,) = server["routes"]
    assert "match" not in catch_all
    assert catch_all["handle"][0]["status_code"] == 404
    assert catch_all["handle"][0]["body"] == NOT_FOUND_BODY


def test_routes_are_sorted_and_marked_and_catch_all_is_last():
    routes = [
        EdgeRoute("site-b", ("b.localhost",), HTTPProxy("unix//run/b.sock")),
        EdgeRoute("site-a", ("a.localhost", "www.a.test"), StaticFiles("/srv/a")),
    ]
    config = _render(routes)
    assert route_ids(config) == ["site-a", "site-b"]
    assert config == _render(list(reversed(routes)))
    rendered = config["apps"]["http"]["servers"]["hostplane"]["routes"]
    first = rendered[0]
    assert first["match"] == [{"host": ["a.localhost", "www.a.test"]}]
    assert first["handle"][0]["response"]["set"] == {ROUTE_HEADER: ["site-a"]}
    assert first["handle"][1] == {"handler": "file_server", "root": "/srv/a"}
    assert rendered[1]["handle"][1]["upstreams"] == [{"dial": "unix//run/b.sock"}]
    assert "match" not in rendered[-1]


def test_fastcgi_expands_like_php_fastcgi():
    config = _render([EdgeRoute("site-p", ("p.localhost",), FastCGI("/srv/p", "unix//run/p.sock"))])
    sub = config["apps"]["http"]["servers"]["hostplane"]["routes"][0]["handle"][1]
    assert sub["handler"] == "subroute"
    handlers = [r["handle"][0]["handler"] for r in sub["routes"]]
    assert handlers == ["vars", "static_response", "rewrite", "reverse_proxy", "file_server"]
    proxy = sub["routes"][3]["handle"][0]
    assert proxy["transport"]["protocol"] == "fastcgi"
    assert proxy["upstreams"] == [{"dial": "unix//run/p.sock"}]
