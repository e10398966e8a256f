"""Caddy's config behind HAProxy (design c of issue 14): one route per upstream kind, the
site's webroot and dial address taken from the X-Hp-* headers HAProxy set from its host map.
Pure: no I/O. It names no site, so it changes only with the platform's settings.

Caddy behind must be reachable from HAProxy alone (a socket only the edge's user opens, or
a loopback port no one else can reach): whoever reaches it chooses the webroot.
"""

from __future__ import annotations

from typing import Any

from hostplane.providers.caddy.render import php_fastcgi, static_response
from hostplane.providers.haproxy.frontend import DIAL_HEADER, FORWARDED, KIND_HEADER, ROOT_HEADER
from hostplane.providers.runtime import FastCGI

JSON = dict[str, Any]
SERVER = "hostplane-behind"


def _header(name: str) -> str:
    return "{http.request.header." + name + "}"


def render_behind(*, admin_listen: str, listen: str) -> JSON:
    root, dial = _header(ROOT_HEADER), _header(DIAL_HEADER)

    def kind(name: str, handlers: list[JSON]) -> JSON:
        return {"match": [{"header": {KIND_HEADER: [name]}}], "handle": handlers, "terminal": True}

    # The upstream's own request goes without them (the dial is read from the original).
    strip = {"request": {"delete": list(FORWARDED)}}
    php = php_fastcgi(FastCGI(root, dial))
    for route in php:
        for handler in route["handle"]:
            if handler["handler"] == "reverse_proxy":
                handler["headers"] = strip
    proxy = {"handler": "reverse_proxy", "headers": strip, "upstreams": [{"dial": dial}]}
    routes = [
        kind("static", [{"handler": "file_server", "root": root}]),
        kind("php", [{"handler": "subroute", "routes": php}]),
        kind("proxy", [proxy]),
        {"handle": [static_response(404, "not found\n", "text/plain; charset=utf-8")]},
    ]
    server = {"listen": [listen], "automatic_https": {"disable": True}, "routes": routes}
    return {
        "admin": {"listen": admin_listen, "config": {"persist": False}},
        "apps": {"http": {"servers": {SERVER: server}}},
    }
