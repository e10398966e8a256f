"""Edge designs for 10,000 sites (issue 14), measured directly against a real Caddy.

For N static sites (10 and 10,000), each design is loaded whole, then measured:

- change: one more site, from the first byte of the change to its first 200 through the
  edge (median of runs), and the same for removing it (to the edge's 404);
- lookup: median latency of the 1st and the Nth site over a few hundred keep-alive requests;
- Caddy's resident memory (VmRSS) with the whole config loaded, and the full load's time.

Designs:
  a. today's: one route per site, the whole config rendered by the plane's own renderer
     (render_config) and every change a POST /load of the whole config.
  b. one route for every site: its host matcher holds every host (Caddy binary-searches a
     list above 100 hosts), a `map` handler turns the host into per-site variables (root,
     route id) used as placeholders by `headers` and `file_server`; a change is two small
     admin API requests on the `@id`s of the host list and the map (append, or DELETE by
     index) instead of a /load. Caddy still re-provisions its whole config on every admin
     change, but that config is a list of strings, not a tree of handlers per site.
  c. HAProxy in front (providers/haproxy: the frontend config, the host map, its runtime
     provider) and Caddy behind with one route per upstream kind (providers/caddy/behind.py)
     serving each site from the X-Hp-* headers HAProxy set from the map; a change is one
     `add map` / `del map` on HAProxy's socket, Caddy's config never changes.
  c_full. The same, a change being the provider's apply of one site: its hosts read from the
     running map (`get map`), the difference sent, then the map file written whole.
  c and c_full need `haproxy` on the PATH or HOSTPLANE_BENCH_HAPROXY; skipped without it.

Targets (the issue's): a change at 10,000 sites within 1.2x or +20 ms of the same change at
10 in the same design; the Nth site within 0.2 ms of the 1st. The last line printed is one
JSON object with every figure; the exit code is 0 whether or not targets are met.

Usage: .venv/bin/python bench/edge_designs.py [--sizes 10,10000] [--runs 5] [--requests 300]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)  # not bench/, where dns.py would shadow dnspython

from tests.e2e.harness import CaddyServer, free_port  # noqa: E402

from bench.edge import Visitor, latency_ms, rss_kb  # noqa: E402
from hostplane.observability import configure_logging  # noqa: E402
from hostplane.providers.caddy.behind import render_behind  # noqa: E402
from hostplane.providers.caddy.render import (  # noqa: E402
    DENIED_BODY,
    MAINTENANCE_BODY,
    NOT_FOUND_BODY,
    SUSPENDED_BODY,
    render_config,
)
from hostplane.providers.edge import ROUTE_HEADER, EdgeRoute, EdgeState  # noqa: E402
from hostplane.providers.haproxy.frontend import FrontendConfig, render_frontend  # noqa: E402
from hostplane.providers.haproxy.hostmap import MapChange, host_map, render_file  # noqa: E402
from hostplane.providers.haproxy.runtime import RuntimeHostMap  # noqa: E402
from hostplane.providers.runtime import StaticFiles  # noqa: E402

CHANGE_RATIO, CHANGE_SLACK_MS, LOOKUP_SLACK_MS = 1.2, 20.0, 0.2
JSON = dict[str, Any]


def host(i: int) -> str:
    return f"s{i:05d}.localhost"


def webroot(root: Path, i: int) -> Path:
    return root / f"s{i:05d}" / "public"


def make_webroots(root: Path, count: int) -> None:
    for i in range(count):
        public = webroot(root, i)
        public.mkdir(parents=True, exist_ok=True)
        (public / "index.html").write_text(f"<p>{host(i)}</p>\n")


class Admin:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=120)

    def call(self, method: str, path: str, body: object = None) -> None:
        content = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json"}
        resp = self.http.request(method, path, content=content, headers=headers)
        if resp.status_code != 200:
            raise SystemExit(f"{method} {path}: {resp.status_code} {resp.text[:300]}")

    def load(self, config: JSON) -> float:
        started = time.perf_counter()
        self.call("POST", "/load", config)
        return time.perf_counter() - started


class RouteBySite:
    """a. Today's: one route per site, the plane's renderer, /load of the whole config."""

    name = "a_route_per_site"

    def __init__(self, caddy: CaddyServer, port: int, sites: Path) -> None:
        self.admin, self.port, self.sites = Admin(caddy.admin_url), port, sites
        self.routes: dict[int, EdgeRoute] = {}

    def _config(self) -> JSON:
        state = EdgeState(tuple(self.routes.values()))
        return render_config(
            state,
            admin_listen=self.admin.http.base_url.netloc.decode(),
            http_listen=f"127.0.0.1:{self.port}",
        )

    def _route(self, i: int) -> EdgeRoute:
        return EdgeRoute(f"site-s{i:05d}", (host(i),), StaticFiles(str(webroot(self.sites, i))))

    def load(self, count: int) -> float:
        self.routes = {i: self._route(i) for i in range(count)}
        return self.admin.load(self._config())

    def add(self, i: int) -> None:
        self.routes[i] = self._route(i)
        self.admin.load(self._config())

    def remove(self, i: int) -> None:
        del self.routes[i]
        self.admin.load(self._config())


class HostListAndMap:
    """b. One route, every host in its matcher, a map host → (root, route id)."""

    name = "b_host_list_and_map"
    ROUTE, MAP = "hp-sites", "hp-map"

    def __init__(self, caddy: CaddyServer, port: int, sites: Path) -> None:
        self.admin, self.port, self.sites = Admin(caddy.admin_url), port, sites
        self.order: list[int] = []  # what Caddy holds, in its order (observed, in a plane)

    def _mapping(self, i: int) -> JSON:
        return {"input": host(i), "outputs": [str(webroot(self.sites, i)), f"site-s{i:05d}"]}

    def load(self, count: int) -> float:
        self.order = list(range(count))
        route = {
            "@id": self.ROUTE,
            "match": [{"host": [host(i) for i in self.order]}],
            "handle": [
                {
                    "@id": self.MAP,
                    "handler": "map",
                    "source": "{http.request.host}",
                    "destinations": ["{hp_root}", "{hp_route}"],
                    "mappings": [self._mapping(i) for i in self.order],
                },
                {"handler": "headers", "response": {"set": {ROUTE_HEADER: ["{hp_route}"]}}},
                {"handler": "file_server", "root": "{hp_root}"},
            ],
            "terminal": True,
        }
        not_found = {"handle": [{"handler": "static_response", "status_code": 404}]}
        config = {
            "admin": {"listen": self.admin.http.base_url.netloc.decode()},
            "apps": {
                "http": {
                    "servers": {
                        "hostplane": {
                            "listen": [f"127.0.0.1:{self.port}"],
                            "automatic_https": {"disable": True},
                            "routes": [route, not_found],
                        }
                    }
                }
            },
        }
        return self.admin.load(config)

    def add(self, i: int) -> None:
        # The variables first, then the host: a request that matches finds its mapping.
        self.admin.call("POST", f"/id/{self.MAP}/mappings", self._mapping(i))
        self.admin.call("POST", f"/id/{self.ROUTE}/match/0/host", host(i))
        self.order.append(i)

    def remove(self, i: int) -> None:
        index = self.order.index(i)
        self.admin.call("DELETE", f"/id/{self.ROUTE}/match/0/host/{index}")
        self.admin.call("DELETE", f"/id/{self.MAP}/mappings/{index}")
        self.order.pop(index)


class HaproxyMap:
    """c. HAProxy in front (the plane's frontend config, host map and runtime provider) and
    Caddy behind with one route per upstream kind (render_behind). With `full`, a change is
    the provider's whole apply (map file written whole, the running map observed in one
    `show map`, the diff sent); without, only the runtime command that makes it live."""

    def __init__(
        self, caddy: CaddyServer, port: int, sites: Path, binary: str, full: bool = False
    ) -> None:
        self.admin, self.port, self.sites = Admin(caddy.admin_url), port, sites
        self.binary, self.dir, self.full = binary, sites.parent / "haproxy", full
        self.name = "c_haproxy_map_provider_apply" if full else "c_haproxy_map"
        self.dir.mkdir(exist_ok=True)
        self.runtime = RuntimeHostMap(self.dir / "admin.sock", self.dir / "hosts.map")
        self.caddy_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.entries: dict[str, str] = {}

    def _route(self, i: int) -> EdgeRoute:
        return EdgeRoute(f"site-s{i:05d}", (host(i),), StaticFiles(str(webroot(self.sites, i))))

    def load(self, count: int) -> float:
        self.stop()
        started = time.perf_counter()
        admin = self.admin.http.base_url.netloc.decode()
        self.admin.load(render_behind(admin_listen=admin, listen=f"127.0.0.1:{self.caddy_port}"))
        self.entries = host_map(EdgeState(tuple(self._route(i) for i in range(count))))
        self.runtime.map_path.write_text(render_file(self.entries))
        bodies = {}
        for name, text in (
            ("not_found", NOT_FOUND_BODY),
            ("maintenance", MAINTENANCE_BODY),
            ("suspended", SUSPENDED_BODY),
            ("denied", DENIED_BODY),
        ):
            bodies[name] = self.dir / f"{name}.body"
            bodies[name].write_text(text)
        cfg = self.dir / "haproxy.cfg"
        cfg.write_text(
            render_frontend(
                FrontendConfig(
                    admin_socket=self.runtime.socket_path,
                    map_path=self.runtime.map_path,
                    http_listen=f"127.0.0.1:{self.port}",
                    behind=f"127.0.0.1:{self.caddy_port}",
                    not_found_file=bodies["not_found"],
                    maintenance_file=bodies["maintenance"],
                    suspended_file=bodies["suspended"],
                    denied_file=bodies["denied"],
                    denied_paths=("/wp-admin/install.php", "/wp-admin/setup-config.php"),
                    installer_key="bench-installer-key",
                )
            )
        )
        self.runtime.socket_path.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [self.binary, "-db", "-f", str(cfg)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while not self.runtime.socket_path.exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("haproxy did not start")
            time.sleep(0.01)
        return time.perf_counter() - started

    def add(self, i: int) -> None:
        new = host_map(EdgeState((self._route(i),)))
        self.entries.update(new)
        if self.full:
            self.runtime.apply_hosts(self.entries, new)
        else:
            for key, value in new.items():
                self.runtime.call(MapChange("add", key, value).command(str(self.runtime.map_path)))

    def remove(self, i: int) -> None:
        del self.entries[host(i)]
        if self.full:
            self.runtime.apply_hosts(self.entries, [host(i)])
        else:
            self.runtime.call(MapChange("del", host(i)).command(str(self.runtime.map_path)))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


def timed(change: Callable[[], None], visitor: Visitor, name: str, status: int) -> float:
    started = time.perf_counter()
    change()
    visitor.wait(name, status, timeout=60)
    return round((time.perf_counter() - started) * 1000, 2)


def measure(design: Any, caddy: CaddyServer, count: int, runs: int, requests: int) -> JSON:
    load_s = design.load(count)
    visitor = Visitor(design.port)
    try:
        visitor.wait(host(count - 1), 200, timeout=60)
        visitor.wait(host(0), 200, timeout=60)
        rss = rss_kb(caddy.proc.pid)
        front = design.proc.pid if isinstance(design, HaproxyMap) and design.proc else None
        front_rss = {"haproxy_rss_kb": rss_kb(front)} if front else {}
        lat = latency_ms(visitor, [host(0), host(count - 1)], requests)
        added, removed = [], []
        for run in range(runs):
            extra = count + run
            added.append(timed(partial(design.add, extra), visitor, host(extra), 200))
            removed.append(timed(partial(design.remove, extra), visitor, host(extra), 404))
    finally:
        visitor.close()
    return {
        "sites": count,
        "full_load_s": round(load_s, 3),
        "caddy_rss_kb": rss,
        **front_rss,
        "first_site_ms": lat[host(0)],
        "nth_site_ms": lat[host(count - 1)],
        "nth_minus_first_ms": round(lat[host(count - 1)] - lat[host(0)], 3),
        "add_ms": statistics.median(added),
        "remove_ms": statistics.median(removed),
        "add_runs_ms": added,
        "remove_runs_ms": removed,
    }


def targets(small: JSON, large: JSON) -> JSON:
    def allowed(key: str) -> float:
        return round(max(small[key] * CHANGE_RATIO, small[key] + CHANGE_SLACK_MS), 2)

    def per_1000(key: str) -> int:
        grown = large.get(key, 0) - small.get(key, 0)
        return round(grown / (large["sites"] - small["sites"]) * 1000)

    return {
        "add_allowed_ms": allowed("add_ms"),
        "add_met": large["add_ms"] <= allowed("add_ms"),
        "remove_allowed_ms": allowed("remove_ms"),
        "remove_met": large["remove_ms"] <= allowed("remove_ms"),
        "lookup_met": large["nth_minus_first_ms"] <= LOOKUP_SLACK_MS,
        "caddy_rss_kb_per_1000_sites": per_1000("caddy_rss_kb"),
        "haproxy_rss_kb_per_1000_sites": per_1000("haproxy_rss_kb"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,10000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--designs", default="a,b,c,c_full")
    args = parser.parse_args()
    configure_logging("json", "warning")  # the figures, not a line per change
    sizes = sorted(int(s) for s in args.sizes.split(","))
    haproxy = os.environ.get("HOSTPLANE_BENCH_HAPROXY") or shutil.which("haproxy")
    root = Path(tempfile.mkdtemp(prefix="hostplane-bench-edge-designs-"))
    root.chmod(0o755)
    sites = root / "sites"
    make_webroots(sites, sizes[-1] + args.runs)
    out: JSON = {}
    try:
        for letter in args.designs.split(","):
            if letter in ("c", "c_full") and haproxy is None:
                out[f"{letter}_haproxy_map"] = {"skipped": "no haproxy (HOSTPLANE_BENCH_HAPROXY)"}
                continue
            figures: dict[int, JSON] = {}
            for count in sizes:
                # A Caddy of its own per measurement: memory and caches from nothing.
                caddy = CaddyServer(root / f"caddy-{letter}-{count}")
                port = free_port()
                design: Any = {
                    "a": lambda c=caddy, p=port: RouteBySite(c, p, sites),
                    "b": lambda c=caddy, p=port: HostListAndMap(c, p, sites),
                    "c": lambda c=caddy, p=port: HaproxyMap(c, p, sites, str(haproxy)),
                    "c_full": lambda c=caddy, p=port: HaproxyMap(
                        c, p, sites, str(haproxy), full=True
                    ),
                }[letter]()
                try:
                    figures[count] = measure(design, caddy, count, args.runs, args.requests)
                finally:
                    if isinstance(design, HaproxyMap):
                        design.stop()
                    caddy.stop()
                f = figures[count]
                print(
                    f"{design.name} at {count}: load {f['full_load_s']} s, add {f['add_ms']} ms,"
                    f" remove {f['remove_ms']} ms, 1st {f['first_site_ms']} ms, Nth "
                    f"{f['nth_site_ms']} ms, RSS {f['caddy_rss_kb'] // 1024} MB",
                    file=sys.stderr,
                )
            out[design.name] = {
                **{f"sites_{n}": f for n, f in figures.items()},
                "targets": targets(figures[sizes[0]], figures[sizes[-1]]),
            }
    finally:
        shutil.rmtree(root, ignore_errors=True)
    out["target_rules"] = {
        "change": f"within {CHANGE_RATIO}x or +{CHANGE_SLACK_MS} ms of the same change "
        f"at {sizes[0]} sites, same design",
        "lookup": f"Nth site within {LOOKUP_SLACK_MS} ms of the 1st (medians)",
    }
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
