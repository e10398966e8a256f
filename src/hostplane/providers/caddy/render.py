"""Render the complete Caddy JSON config from routes. Pure: no I/O."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any

from hostplane.providers.edge import (
    ACME_CHALLENGE_PATH,
    INSTALLER_HEADER,
    ROUTE_HEADER,
    SUSPENDED,
    AcmeChallenge,
    EdgeRoute,
    EdgeState,
)
from hostplane.providers.runtime import FastCGI, HTTPProxy, StaticFiles, Upstream

SERVER = "hostplane"
TLS_SERVER = "hostplane-tls"
CHALLENGE_ID_PREFIX = "acme-"
NOT_FOUND_BODY = "no site is configured for this host\n"
DENIED_BODY = "not found\n"
MAINTENANCE_BODY = """<!doctype html>
<html><head><meta charset="utf-8"><title>Down for maintenance</title></head>
<body><h1>Down for maintenance</h1><p>This site is being repaired. Please come back later.</p>
</body></html>
"""
MAINTENANCE_HEADERS = {"Retry-After": ["300"], "Cache-Control": ["no-store"]}
SUSPENDED_BODY = """<!doctype html>
<html><head><meta charset="utf-8"><title>Suspended</title></head>
<body><h1>Suspended</h1><p>This site is suspended.</p></body></html>
"""

JSON = dict[str, Any]


def render_config(
    state: EdgeState, *, admin_listen: str, http_listen: str, https_listen: str | None = None
) -> JSON:
    """The whole config: admin kept on loopback, one HTTP server (ACME challenges first), an
    HTTPS server with the same routes when `https_listen` is set, a 404 for unknown hosts."""
    return _render(state, admin_listen, http_listen, https_listen, lambda n, items: list(items))


def config_matches(
    config: JSON,
    state: EdgeState,
    *,
    admin_listen: str,
    http_listen: str,
    https_listen: str | None = None,
    running_admin: JSON | None = None,
) -> bool:
    """Whether `config` equals render_config's (its admin block replaced by `running_admin`
    when given), compared route by route as each is rendered: the desired config of thousands
    of sites is never built whole beside the running one (their parts die young, not in the
    collector's oldest generation)."""
    expected = _render(state, admin_listen, http_listen, https_listen, _Lazy)
    if running_admin:
        expected["admin"] = running_admin
    return _matches(config, expected)


@dataclass(frozen=True, slots=True)
class _Lazy:
    """A list of `count` items, rendered only while compared."""

    count: int
    items: Iterable[JSON]


def _matches(actual: Any, expected: Any) -> bool:
    """`actual == expected`, with each _Lazy in `expected` standing for its list."""
    if isinstance(expected, _Lazy):
        return (
            isinstance(actual, list)
            and len(actual) == expected.count
            and all(a == e for a, e in zip(actual, expected.items, strict=False))
        )
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(_matches(actual[key], value) for key, value in expected.items())
        )
    return bool(actual == expected)


def _render(
    state: EdgeState,
    admin_listen: str,
    http_listen: str,
    https_listen: str | None,
    collect: Callable[[int, Iterator[JSON]], Any],
) -> JSON:
    """render_config, each server's routes made by `collect(how many, their iterator)`."""
    # A request goes to the first route that matches: routes with a wildcard host come last,
    # so that a name bound exactly to one site is not taken by another's wildcard.
    ordered = sorted(state.routes, key=lambda r: (any(h[:2] == "*." for h in r.hosts), r.route_id))
    challenges = sorted(state.challenges, key=lambda c: (c.host, c.token))
    count = len(ordered) + 1
    servers: JSON = {
        SERVER: {
            "listen": [http_listen],
            "automatic_https": {"disable": True},
            "routes": collect(
                len(challenges) + count,
                chain(
                    (_challenge(c) for c in challenges),
                    (_route(r) for r in ordered),
                    (_not_found(),),
                ),
            ),
        }
    }
    apps: JSON = {"http": {"servers": servers}}
    if https_listen:
        servers[TLS_SERVER] = {
            "listen": [https_listen],
            "automatic_https": {"disable": True},
            "tls_connection_policies": [{}],
            # Caddy wants every @id unique in the whole config: the HTTPS copies get their own.
            "routes": collect(
                count, chain((_route(r, id_prefix="tls-") for r in ordered), (_not_found(),))
            ),
        }
        certificates = sorted(state.certificates, key=lambda c: c.host)
        if certificates:
            apps["tls"] = {
                "certificates": {
                    "load_pem": [
                        {"certificate": c.certificate_pem, "key": c.key_pem, "tags": [c.host]}
                        for c in certificates
                    ]
                }
            }
    return {"admin": {"listen": admin_listen, "config": {"persist": False}}, "apps": apps}


def _challenge(challenge: AcmeChallenge) -> JSON:
    return {
        "@id": f"{CHALLENGE_ID_PREFIX}{challenge.host}",
        "match": [{"host": [challenge.host], "path": [ACME_CHALLENGE_PATH + challenge.token]}],
        "handle": [
            {
                "handler": "static_response",
                "status_code": 200,
                "body": challenge.validation,
                "headers": {"Content-Type": ["application/octet-stream"]},
            }
        ],
        "terminal": True,
    }


def _route(route: EdgeRoute, id_prefix: str = "") -> JSON:
    return {
        "@id": id_prefix + route.route_id,
        "match": [{"host": list(route.hosts)}],
        "handle": [
            {"handler": "headers", "response": {"set": {ROUTE_HEADER: [route.route_id]}}},
            *_guarded(route),
        ],
        "terminal": True,
    }


def _guarded(route: EdgeRoute) -> list[JSON]:
    """The upstream's handlers behind the route's own rules: in maintenance nothing reaches
    it; denied paths (and anything below them) are answered 404 before it is asked."""
    if route.maintenance:
        body = SUSPENDED_BODY if route.maintenance_reason == SUSPENDED else MAINTENANCE_BODY
        return [static_response(503, body, "text/html; charset=utf-8", MAINTENANCE_HEADERS)]
    if not route.denied_paths:
        return _handlers(route.upstream)
    patterns = list(_denied_patterns_of(route.denied_paths))
    return [
        {
            "handler": "subroute",
            "routes": [
                {
                    "match": [_denied_match(patterns, route.installer_key)],
                    "handle": [static_response(404, DENIED_BODY, "text/plain; charset=utf-8")],
                    "terminal": True,
                },
                {"handle": _handlers(route.upstream)},
            ],
        }
    ]


@functools.cache
def _denied_patterns_of(paths: tuple[str, ...]) -> tuple[str, ...]:
    # Every guarded site has the same few denied paths: computed once, not once per route.
    return tuple(sorted({p for path in paths for p in denied_patterns(path)}))


def _denied_match(patterns: list[str], installer_key: str | None) -> JSON:
    if installer_key is None:
        return {"path": patterns}
    return {"path": patterns, "not": [{"header": {INSTALLER_HEADER: [installer_key]}}]}


def denied_patterns(path: str) -> list[str]:
    """Caddy path patterns for a denied path: itself, with or without a trailing slash, and
    everything below it (PHP runs `/x.php/anything` as /x.php). Caddy matches paths
    case-insensitively, after decoding them."""
    base = path.rstrip("/")
    return [base, f"{base}/", f"{base}/*"]


def static_response(
    status: int, body: str, content_type: str, headers: dict[str, list[str]] | None = None
) -> JSON:
    return {
        "handler": "static_response",
        "status_code": status,
        "body": body,
        "headers": {"Content-Type": [content_type], **(headers or {})},
    }


def _handlers(upstream: Upstream) -> list[JSON]:
    if isinstance(upstream, StaticFiles):
        return [{"handler": "file_server", "root": upstream.root}]
    if isinstance(upstream, HTTPProxy):
        return [{"handler": "reverse_proxy", "upstreams": [{"dial": upstream.dial}]}]
    if isinstance(upstream, FastCGI):
        return [{"handler": "subroute", "routes": php_fastcgi(upstream)}]
    raise TypeError(f"unknown upstream {upstream!r}")


def php_fastcgi(up: FastCGI) -> list[JSON]:
    """What Caddy's `php_fastcgi` directive expands to (caddy adapt, 2.6)."""
    path = "{http.request.uri.path}"
    return [
        {"handle": [{"handler": "vars", "root": up.root}]},
        {
            "match": [{"file": {"try_files": [f"{path}/index.php"]}, "not": [{"path": ["*/"]}]}],
            "handle": [
                {
                    "handler": "static_response",
                    "status_code": 308,
                    "headers": {"Location": ["{http.request.orig_uri.path}/"]},
                }
            ],
        },
        {
            "match": [
                {
                    "file": {
                        "split_path": [".php"],
                        "try_files": [path, f"{path}/index.php", "index.php"],
                    }
                }
            ],
            "handle": [{"handler": "rewrite", "uri": "{http.matchers.file.relative}"}],
        },
        {
            "match": [{"path": ["*.php"]}],
            "handle": [
                {
                    "handler": "reverse_proxy",
                    "transport": {"protocol": "fastcgi", "split_path": [".php"]},
                    "upstreams": [{"dial": up.dial}],
                }
            ],
        },
        {"handle": [{"handler": "file_server"}]},
    ]


def _not_found() -> JSON:
    return {"handle": [static_response(404, NOT_FOUND_BODY, "text/plain; charset=utf-8")]}


def route_ids(config: JSON) -> list[str]:
    """The route ids in a loaded config (what observe() reports)."""
    servers = config.get("apps", {}).get("http", {}).get("servers", {})
    routes = servers.get(SERVER, {}).get("routes", [])
    return [
        r["@id"]
        for r in routes
        if isinstance(r, dict) and "@id" in r and not r["@id"].startswith(CHALLENGE_ID_PREFIX)
    ]
