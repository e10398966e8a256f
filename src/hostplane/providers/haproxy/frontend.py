"""HAProxy's config for the edge in front of Caddy (design c of issue 14). Pure: no I/O.

It names no site: every per-site fact is in the host map (hostmap.py), looked up once per
request (twice for a host a wildcard serves), so the config changes only when the platform's
own settings do. What it does per request, in order: an ACME challenge being answered is
answered; an unknown host is answered 404; the route id goes on the answer; a site in
maintenance (or suspended) is answered 503 here; a guarded site's installer paths are answered
404 unless the request carries the installer key; anything else goes to Caddy behind with the
site's upstream in X-Hp-* headers, any such header sent by the client replaced first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hostplane.providers.edge import INSTALLER_HEADER, ROUTE_HEADER

KIND_HEADER, ROOT_HEADER, DIAL_HEADER = "X-Hp-Kind", "X-Hp-Root", "X-Hp-Dial"
FORWARDED = (KIND_HEADER, ROOT_HEADER, DIAL_HEADER)
# A HAProxy replaced by a reload finishes its connections, but ends by itself this long after
# it was told to (a download that never ends must not keep it forever).
HARD_STOP_AFTER = 30


@dataclass(frozen=True, slots=True)
class FrontendConfig:
    admin_socket: Path
    map_path: Path
    http_listen: str  # 127.0.0.1:18080 or :80
    behind: str  # Caddy behind: 127.0.0.1:port, or /path/to/socket
    not_found_file: Path  # the bodies, written beside the config
    maintenance_file: Path
    suspended_file: Path
    denied_file: Path
    challenges_map: Path | None = None  # host + path → validation (challenge_map)
    https_listen: str | None = None  # 127.0.0.1:18443 or :443; no HTTPS without it
    crt_list: Path | None = None  # the certificates (certs.py), a default one first
    denied_paths: tuple[str, ...] = ()
    installer_key: str | None = None
    # Started as root (to read the certificates and bind low ports), HAProxy drops to this
    # user and group once it has; None: it keeps the user it was started as.
    uid: int | None = None
    gid: int | None = None


def render_frontend(c: FrontendConfig) -> str:
    site = "var(txn.site)"
    lines = [
        "global",
        # The next HAProxy takes the listening sockets from this one through it (`-x`).
        f"  stats socket {c.admin_socket} mode 600 level admin expose-fd listeners",
        f"  hard-stop-after {HARD_STOP_AFTER}s",
        *([f"  uid {c.uid}"] if c.uid is not None else []),
        *([f"  gid {c.gid}"] if c.gid is not None else []),
        "defaults",
        "  mode http",
        "  option http-keep-alive",
        "  timeout connect 5s",
        "  timeout client 60s",
        "  timeout server 300s",
        "frontend hostplane",
        f"  bind {c.http_listen}",
        *([f"  bind {c.https_listen} ssl crt-list {c.crt_list}"] if c.https_listen else []),
        *_challenges(c),
        *_site_lookup(c.map_path, site),
        f'  http-request return status 404 content-type "text/plain; charset=utf-8" '
        f"file {c.not_found_file} if !{{ {site} -m found }}",
        f"  http-request set-var(txn.route) {site},field(1,|)",
        f"  http-request set-var(txn.flags) {site},field(5,|)",
        f"  http-response set-header {ROUTE_HEADER} %[var(txn.route)]",
        _maintenance("s", c.suspended_file),
        _maintenance("m", c.maintenance_file),
    ]
    if c.denied_paths:
        exact = " ".join(sorted({p.rstrip("/").lower() for p in c.denied_paths}))
        below = " ".join(sorted({p.rstrip("/").lower() + "/" for p in c.denied_paths}))
        lines.append(f"  acl installer_path path,lower -m str {exact}")
        lines.append(f"  acl installer_path path,lower -m beg {below}")
        allowed = ""
        if c.installer_key is not None:
            key = f"req.hdr({INSTALLER_HEADER}) -m str {c.installer_key}"
            lines.append(f"  acl installer_key {key}")
            allowed = " !installer_key"
        lines.append(
            f'  http-request return status 404 content-type "text/plain; charset=utf-8" '
            f"file {c.denied_file} hdr {ROUTE_HEADER} %[var(txn.route)] "
            f"if {{ var(txn.flags) -m sub g }} installer_path{allowed}"
        )
    for number, header in ((2, KIND_HEADER), (3, ROOT_HEADER), (4, DIAL_HEADER)):
        lines.append(f"  http-request set-header {header} %[{site},field({number},|)]")
    lines += [
        "  default_backend caddy",
        "backend caddy",
        f"  server caddy {c.behind}",
    ]
    return "\n".join(lines) + "\n"


def _site_lookup(map_path: Path, site: str) -> list[str]:
    """The request's host (lower case, no port) in the map; when it is not there, the
    wildcard that covers it: its first label replaced by `*` (`a.example.com` is served by
    `*.example.com`; `a.b.example.com` is not, as Caddy's wildcard matcher holds it)."""
    host = "req.hdr(host),lower,word(1,:)"
    return [
        f"  http-request set-var(txn.site) {host},map({map_path})",
        f"  http-request set-var(txn.site) {host},regsub(^[^.]*,*),map({map_path}) "
        f"if !{{ {site} -m found }}",
    ]


def _challenges(c: FrontendConfig) -> list[str]:
    """ACME challenges first: answered for any host, in maintenance or not."""
    if c.challenges_map is None:
        return []
    return [
        # The host as the map holds it (lower case, no port: a CA asks on the edge's port,
        # which a Host header may name), then the path: `base` would keep both as sent.
        "  http-request set-var(txn.path) path",
        "  http-request set-var(txn.acme) req.hdr(host),lower,word(1,:),concat(,txn.path),"
        f"map({c.challenges_map})",
        "  http-request return status 200 content-type application/octet-stream "
        'lf-string "%[var(txn.acme)]" if { var(txn.acme) -m found }',
    ]


def _maintenance(flag: str, body: Path) -> str:
    return (
        f'  http-request return status 503 content-type "text/html; charset=utf-8" '
        f"file {body} hdr Retry-After 300 hdr Cache-Control no-store "
        f"hdr {ROUTE_HEADER} %[var(txn.route)] if {{ var(txn.flags) -m sub {flag} }}"
    )
