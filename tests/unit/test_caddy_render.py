"""The rendered Caddy config: whole, stable, admin kept, unknown hosts 404."""

from __future__ import annotations

import copy

import pytest

from hostplane.errors import ValidationError
from hostplane.providers.caddy.render import (
    NOT_FOUND_BODY,
    config_matches,
    render_config,
    route_ids,
)
from hostplane.providers.edge import (
    ROUTE_HEADER,
    AcmeChallenge,
    EdgeCertificate,
    EdgeRoute,
    EdgeState,
)
from hostplane.providers.runtime import FastCGI, HTTPProxy, StaticFiles


def _render(routes):
    return render_config(
        EdgeState(tuple(routes)), admin_listen="127.0.0.1:2019", http_listen="127.0.0.1:18080"
    )


def _render_tls(state):
    return render_config(
        state,
        admin_listen="127.0.0.1:2019",
        http_listen="127.0.0.1:18080",
        https_listen="127.0.0.1:18443",
    )


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


def test_https_server_copies_routes_with_unique_ids_and_loads_certificates():
    route = EdgeRoute("site-a", ("a.localhost", "www.a.test"), StaticFiles("/srv/a"))
    cert = EdgeCertificate("www.a.test", "CERT-PEM", "KEY-PEM")
    config = _render_tls(EdgeState((route,), certificates=(cert,)))
    servers = config["apps"]["http"]["servers"]
    tls = servers["hostplane-tls"]
    assert tls["listen"] == ["127.0.0.1:18443"] and tls["tls_connection_policies"] == [{}]
    ids = [r.get("@id") for s in servers.values() for r in s["routes"] if "@id" in r]
    assert len(ids) == len(set(ids)), ids  # Caddy refuses a config with a repeated @id
    assert tls["routes"][0]["match"] == servers["hostplane"]["routes"][0]["match"]
    assert config["apps"]["tls"]["certificates"]["load_pem"] == [
        {"certificate": "CERT-PEM", "key": "KEY-PEM", "tags": ["www.a.test"]}
    ]
    assert route_ids(config) == ["site-a"]


def test_acme_challenges_come_before_every_route_and_answer_only_their_token():
    route = EdgeRoute("site-a", ("a.localhost", "www.a.test"), StaticFiles("/srv/a"))
    challenge = AcmeChallenge("www.a.test", "tok-EN_1", "tok-EN_1.thumb")
    config = _render_tls(EdgeState((route,), challenges=(challenge,)))
    first = config["apps"]["http"]["servers"]["hostplane"]["routes"][0]
    assert first["match"] == [
        {"host": ["www.a.test"], "path": ["/.well-known/acme-challenge/tok-EN_1"]}
    ]
    assert first["handle"][0]["body"] == "tok-EN_1.thumb"
    assert route_ids(config) == ["site-a"]  # challenges are not routes of sites
    assert "tls" not in config["apps"]  # no certificate yet


def _site_routes(route: EdgeRoute) -> list[dict]:
    return _render([route])["apps"]["http"]["servers"]["hostplane"]["routes"]


def test_denied_paths_answer_404_before_the_upstream_with_everything_below_them():
    upstream = FastCGI("/srv/wp", "unix//run/wp.sock")
    route = EdgeRoute(
        "site-wp",
        ("wp.localhost",),
        upstream,
        denied_paths=("/wp-admin/install.php", "/wp-admin/setup-config.php/"),
    )
    first = _site_routes(route)[0]
    assert first["handle"][0]["response"]["set"] == {ROUTE_HEADER: ["site-wp"]}
    (guard,) = first["handle"][1:]
    deny, rest = guard["routes"]
    assert deny["match"] == [
        {
            "path": [
                "/wp-admin/install.php",
                "/wp-admin/install.php/",
                "/wp-admin/install.php/*",
                "/wp-admin/setup-config.php",
                "/wp-admin/setup-config.php/",
                "/wp-admin/setup-config.php/*",
            ]
        }
    ]
    assert deny["handle"][0]["status_code"] == 404 and deny["terminal"] is True
    plain = _site_routes(EdgeRoute("site-wp", ("wp.localhost",), upstream))[0]
    assert rest == {"handle": plain["handle"][1:]}  # then exactly what the route did before


def test_maintenance_answers_503_and_never_names_the_upstream():
    route = EdgeRoute("site-m", ("m.localhost",), HTTPProxy("unix//run/m.sock"), maintenance=True)
    first = _site_routes(route)[0]
    assert first["match"] == [{"host": ["m.localhost"]}]
    handlers = first["handle"]
    assert [h["handler"] for h in handlers] == ["headers", "static_response"]
    assert handlers[1]["status_code"] == 503
    assert "maintenance" in handlers[1]["body"].lower()
    assert handlers[1]["headers"]["Retry-After"] == ["300"]
    assert "unix//run/m.sock" not in str(_render([route]))


def test_a_denied_path_must_be_an_absolute_path_without_wildcards():
    for bad in ("wp-admin/install.php", "/wp-admin/*", "/", ""):
        with pytest.raises(ValidationError, match="absolute path"):
            EdgeRoute("site-x", ("x.localhost",), StaticFiles("/srv/x"), denied_paths=(bad,))


_LISTEN = {
    "admin_listen": "127.0.0.1:2019",
    "http_listen": "127.0.0.1:18080",
    "https_listen": "127.0.0.1:18443",
}


def _variants(config):
    """`config` changed in one place each: a route's part, a route less, one more, the
    servers, the admin block, the certificates."""
    changes = [
        lambda c: c["apps"]["http"]["servers"]["hostplane"]["routes"][0]["match"][0]["host"].append(
            "x.test"
        ),
        lambda c: c["apps"]["http"]["servers"]["hostplane"]["routes"].pop(1),
        lambda c: c["apps"]["http"]["servers"]["hostplane"]["routes"].insert(1, {"handle": []}),
        lambda c: c["apps"]["http"]["servers"]["hostplane-tls"]["routes"][1].pop("terminal"),
        lambda c: c["apps"]["http"]["servers"].pop("hostplane-tls"),
        lambda c: c["admin"].update(listen="127.0.0.1:2020"),
        lambda c: c["apps"]["tls"]["certificates"]["load_pem"].clear(),
        lambda c: c["apps"].update(extra={}),
        lambda c: c["apps"]["http"]["servers"]["hostplane"].update(routes={}),
    ]
    for change in changes:
        changed = copy.deepcopy(config)
        change(changed)
        yield changed


def test_config_matches_exactly_when_the_rendered_config_is_equal():
    routes = (
        EdgeRoute("site-a", ("a.localhost", "www.a.test"), StaticFiles("/srv/a")),
        EdgeRoute("site-b", ("b.localhost",), HTTPProxy("unix//run/b.sock")),
        EdgeRoute("site-c", ("*.c.test",), FastCGI("/srv/c", "unix//run/c.sock")),
    )
    state = EdgeState(
        routes,
        certificates=(EdgeCertificate("www.a.test", "CERT-PEM", "KEY-PEM"),),
        challenges=(AcmeChallenge("www.a.test", "tok", "tok.thumb"),),
    )
    config = render_config(state, **_LISTEN)
    assert config_matches(copy.deepcopy(config), state, **_LISTEN)
    for changed in _variants(config):
        assert changed != config
        assert not config_matches(changed, state, **_LISTEN)
    running_admin = {"listen": "unix//run/admin.sock"}
    adopted = copy.deepcopy(config) | {"admin": running_admin}
    assert config_matches(adopted, state, **_LISTEN, running_admin=running_admin)
    assert not config_matches(config, state, **_LISTEN, running_admin=running_admin)
    assert not config_matches(config, EdgeState(routes[:2]), **_LISTEN)
    assert not config_matches({}, state, **_LISTEN)
