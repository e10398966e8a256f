"""The edge at 10, 1,000 and 10,000 static sites (issue 14): what a change costs, what a
request costs, how long a start takes, how much memory the edge holds.

For each N: N static sites on the local runtime are written straight into the state store
(rows, and their webroots with an index.html), then a control plane (`hostctl up`, its own
managed Caddy) starts and regenerates the edge from the database. Measured:

- start → every site served: from launching `hostctl up` to a 200 from the first and the
  last route of the config (one config holds every route, loaded at once);
- one more change: `POST /v1/sites` of a static site → its first 200 through the edge, with
  the operation's own edge step; then `DELETE` → the edge answers 404 for it (median of runs);
- request latency (median over a few hundred keep-alive requests, interleaved) of the 1st
  site and of the Nth (the last route, walked last), of a custom domain of each (ACTIVE domain
  rows seeded with the sites), and of one PHP site made through the API once the N are up
  (its own PHP-FPM pool), beside the PHP site of the smallest N (a PHP site's time is mostly
  PHP's, so it is compared with itself, not with a static one). Proxied (Docker) sites are not
  measured here: they need the Docker engine; behind HAProxy their host is looked up in the
  same map as every other kind's;
- Caddy's resident memory (VmRSS), and per 1,000 sites beyond the smallest N (with
  `--front haproxy`, the default as the plane's is, HAProxy's too: HAProxy on the edge's
  ports with every site in its host map, Caddy behind it; `--front caddy` measures Caddy
  alone on the edge's ports).

Targets are ratios against the same figure at the smallest N, measured in the same run:
a change within 1.2x (or +20 ms, whichever is larger); the Nth site's latency within 0.2 ms
of the 1st's; start → every site served within 3 s of the plane starting (at the smallest N
beside it: the floor of a start). The last line printed is one JSON object with every figure;
the exit code is 0 whether or not targets are met.

Usage: .venv/bin/python bench/edge.py [--sizes 10,1000,10000] [--runs 3] [--requests 300]
       [--front haproxy|caddy]
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)  # not bench/, where dns.py would shadow dnspython

from tests.e2e.harness import ControlPlane  # noqa: E402

from hostplane.kernel.store.db import create_engine, migrate  # noqa: E402
from hostplane.kernel.store.types import new_id, utcnow  # noqa: E402
from hostplane.kinds.domain.model import DomainStatus  # noqa: E402
from hostplane.kinds.domain.table import DomainRow  # noqa: E402
from hostplane.kinds.site.model import SiteStatus  # noqa: E402
from hostplane.kinds.site.table import SiteRow  # noqa: E402
from hostplane.providers.local.runtime import SITES_FOLDER  # noqa: E402

CHANGE_RATIO, CHANGE_SLACK_MS = 1.2, 20.0
LOOKUP_SLACK_MS = 0.2
START_S = 3.0
INDEX = "<!doctype html><title>{name}</title><p>{name}</p>\n"


def site_names(n: int) -> list[str]:
    return [f"s{i:05d}" for i in range(n)]


def domain_of(site: str) -> str:
    return f"www.{site}-shop.test"


def seed(cp: ControlPlane, names: list[str]) -> None:
    """N routed, ACTIVE static sites on the local runtime, as their provisioning leaves them:
    a row each (no tenant: each is its own, as a site created without one) and a webroot;
    the first and the last with an ACTIVE custom domain (proven, as its DNS check leaves it)."""
    cp.prepare()
    engine = create_engine(f"sqlite:///{cp.data_dir / 'state.sqlite3'}")
    migrate(engine)
    now = utcnow()
    rows = [
        {
            "id": new_id(),
            "name": name,
            "type": "static",
            "runtime": "local",
            "status": SiteStatus.ACTIVE,
            "routed": True,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for name in names
    ]
    domains = [
        {
            "id": new_id(),
            "site_id": rows[i]["id"],
            "name": domain_of(rows[i]["name"]),
            "status": DomainStatus.ACTIVE,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for i in sorted({0, len(rows) - 1})
    ]
    with engine.begin() as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(SiteRow.__table__.insert(), rows[start : start + 1000])
        conn.execute(DomainRow.__table__.insert(), domains)
    engine.dispose()
    for name in names:
        public = cp.homes_dir / name / SITES_FOLDER / name / "public"
        public.mkdir(parents=True)
        (public / "index.html").write_text(INDEX.format(name=name))


class Visitor:
    """Keep-alive HTTP/1.1 to the edge, as little client work per request as the stdlib
    allows (the figure to compare is the difference between two hosts, on one connection)."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def get(self, host: str) -> int:
        try:
            self.conn.request("GET", "/", headers={"Host": host})
            resp = self.conn.getresponse()
            resp.read()
            return resp.status
        except (OSError, http.client.HTTPException):
            self.conn.close()
            return 0

    def wait(self, host: str, status: int, timeout: float = 120) -> float:
        started = time.perf_counter()
        deadline = time.monotonic() + timeout
        while self.get(host) != status:
            if time.monotonic() > deadline:
                raise SystemExit(f"{host} never answered {status} through the edge")
            time.sleep(0.002)
        return time.perf_counter() - started

    def close(self) -> None:
        self.conn.close()


def latency_ms(visitor: Visitor, hosts: list[str], requests: int) -> dict[str, float]:
    """Median ms per host, requests interleaved so the machine's drift weighs on all alike."""
    for host in hosts:  # warm: the connection, Caddy's file cache
        for _ in range(20):
            visitor.get(host)
    times: dict[str, list[float]] = {h: [] for h in hosts}
    for _ in range(requests):
        for host in hosts:
            started = time.perf_counter()
            status = visitor.get(host)
            times[host].append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise SystemExit(f"{host}: HTTP {status}")
    return {h: round(statistics.median(t), 3) for h, t in times.items()}


def edge_step_ms(op: dict[str, Any]) -> float | None:
    from datetime import datetime

    for step in op["steps"]:
        if step["name"] == "edge":
            start = datetime.fromisoformat(step["started_at"])
            end = datetime.fromisoformat(step["finished_at"])
            return round((end - start).total_seconds() * 1000, 1)
    return None


def one_change(cp: ControlPlane, visitor: Visitor) -> dict[str, Any]:
    """Create one static site → its first 200; destroy it → the edge's 404."""
    name = f"zb{uuid.uuid4().hex[:6]}"
    host = f"{name}.localhost"
    with cp.api() as api:
        started = time.perf_counter()
        r = api.post("/v1/sites", json={"name": name, "type": "static", "runtime": "local"})
        if r.status_code != 202:
            raise SystemExit(f"POST /v1/sites: {r.status_code} {r.text}")
        visitor.wait(host, 200)
        create_s = time.perf_counter() - started
        op = cp.wait_operation(r.json()["operation"]["id"], timeout=120)
        if op["status"] != "SUCCEEDED":
            raise SystemExit(f"provision of {name} failed: {op['error']}")
        started = time.perf_counter()
        r = api.delete(f"/v1/sites/{name}")
        visitor.wait(host, 404)
        destroy_s = time.perf_counter() - started
        gone = cp.wait_operation(r.json()["operation"]["id"], timeout=120)
    return {
        "create_ms": round(create_s * 1000, 1),
        "create_edge_step_ms": edge_step_ms(op),
        "destroy_ms": round(destroy_s * 1000, 1),
        "destroy_edge_step_ms": edge_step_ms(gone),
    }


def php_site(cp: ControlPlane) -> str:
    """One PHP site made through the API (the last site of the N, and the only PHP one):
    its host; it answers with PHP run by its own PHP-FPM pool."""
    name = f"zp{uuid.uuid4().hex[:6]}"
    with cp.api() as api:
        r = api.post("/v1/sites", json={"name": name, "type": "php", "runtime": "local"})
        if r.status_code != 202:
            raise SystemExit(f"POST /v1/sites (php): {r.status_code} {r.text}")
        op = cp.wait_operation(r.json()["operation"]["id"], timeout=120)
    if op["status"] != "SUCCEEDED":
        raise SystemExit(f"provision of {name} failed: {op['error']}")
    return f"{name}.localhost"


def rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])


def run(size: int, runs: int, requests: int, front: str = "haproxy") -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix=f"hostplane-bench-edge-{size}-"))
    env = {"HOSTPLANE_LOG_LEVEL": "warning", "HOSTPLANE_EDGE_FRONT": front}
    cp = ControlPlane(root / "data", extra_env=env)
    names = site_names(size)
    visitor: Visitor | None = None
    try:
        started = time.perf_counter()
        seed(cp, names)
        seed_s = time.perf_counter() - started
        first, last = f"{names[0]}.localhost", f"{names[-1]}.localhost"
        started = time.perf_counter()
        cp.start(timeout=300)
        visitor = Visitor(cp.edge_port)
        visitor.wait(last, 200, timeout=300)
        visitor.wait(first, 200, timeout=10)
        start_s = time.perf_counter() - started
        pid = cp.edge_pid()
        assert pid is not None, "the plane runs no edge"
        rss = rss_kb(pid)
        front_pid = cp.front_pid()
        if front == "haproxy" and front_pid is None:
            raise SystemExit("the plane runs no HAProxy in front")
        front_rss = {"haproxy_rss_kb": rss_kb(front_pid)} if front_pid is not None else {}
        php = php_site(cp)
        first_domain, last_domain = domain_of(names[0]), domain_of(names[-1])
        lat = latency_ms(visitor, [first, last, first_domain, last_domain, php], requests)
        changes = [one_change(cp, visitor) for _ in range(runs)]
        med = {k: statistics.median(c[k] or 0.0 for c in changes) for k in changes[0]}
        return {
            "sites": size,
            "seed_s": round(seed_s, 2),
            "start_to_served_s": round(start_s, 2),
            "first_site_ms": lat[first],
            "nth_site_ms": lat[last],
            "nth_minus_first_ms": round(lat[last] - lat[first], 3),
            "first_domain_ms": lat[first_domain],
            "nth_domain_ms": lat[last_domain],
            "domain_nth_minus_first_ms": round(lat[last_domain] - lat[first_domain], 3),
            "php_site_ms": lat[php],
            "front": front,
            "caddy_rss_kb": rss,
            **front_rss,
            **{k: round(v, 1) for k, v in med.items()},
            "changes": changes,
        }
    finally:
        if visitor is not None:
            visitor.close()
        cp.stop()
        cp.clean_host()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--front", choices=("haproxy", "caddy"), default="haproxy")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    results: dict[str, Any] = {}
    for size in sizes:
        r = run(size, args.runs, args.requests, args.front)
        results[f"sites_{size}"] = r
        print(
            f"{size:>6} sites: start→served {r['start_to_served_s']} s, create→200 "
            f"{r['create_ms']} ms (edge step {r['create_edge_step_ms']} ms), destroy→404 "
            f"{r['destroy_ms']} ms, 1st {r['first_site_ms']} ms / Nth {r['nth_site_ms']} ms, "
            f"Caddy RSS {r['caddy_rss_kb'] // 1024} MB"
            + (f", HAProxy RSS {r['haproxy_rss_kb'] // 1024} MB" if "haproxy_rss_kb" in r else ""),
            file=sys.stderr,
        )
    base = results[f"sites_{sizes[0]}"]
    targets: dict[str, Any] = {}
    for size in sizes[1:]:
        r = results[f"sites_{size}"]
        allowed = {
            k: round(max(base[k] * CHANGE_RATIO, base[k] + CHANGE_SLACK_MS), 1)
            for k in ("create_ms", "destroy_ms")
        }
        per_1000 = (r["caddy_rss_kb"] - base["caddy_rss_kb"]) / (size - sizes[0]) * 1000
        targets[f"sites_{size}"] = {
            "create_allowed_ms": allowed["create_ms"],
            "create_met": r["create_ms"] <= allowed["create_ms"],
            "destroy_allowed_ms": allowed["destroy_ms"],
            "destroy_met": r["destroy_ms"] <= allowed["destroy_ms"],
            "lookup_met": r["nth_minus_first_ms"] <= LOOKUP_SLACK_MS,
            "domain_lookup_met": r["domain_nth_minus_first_ms"] <= LOOKUP_SLACK_MS,
            "php_beyond_smallest_ms": round(r["php_site_ms"] - base["php_site_ms"], 3),
            "php_lookup_met": r["php_site_ms"] - base["php_site_ms"] <= LOOKUP_SLACK_MS,
            "start_floor_s": base["start_to_served_s"],
            "start_beyond_floor_s": round(r["start_to_served_s"] - base["start_to_served_s"], 2),
            "start_met": r["start_to_served_s"] <= START_S,
            "caddy_rss_kb_per_1000_sites": round(per_1000),
        }
        if "haproxy_rss_kb" in r:
            grown = (r["haproxy_rss_kb"] - base["haproxy_rss_kb"]) / (size - sizes[0]) * 1000
            targets[f"sites_{size}"]["haproxy_rss_kb_per_1000_sites"] = round(grown)
    out = {
        "front": args.front,
        **results,
        "targets": targets,
        "target_rules": {
            "change": f"within {CHANGE_RATIO}x or +{CHANGE_SLACK_MS} ms of the same change "
            f"at {sizes[0]} sites",
            "lookup": f"Nth site within {LOOKUP_SLACK_MS} ms of the 1st (medians); the same "
            "for a custom domain of the Nth and of the 1st; a PHP site made after the N within "
            f"{LOOKUP_SLACK_MS} ms of one made after {sizes[0]}",
            "start": f"every site served within {START_S} s of the plane starting",
        },
        "meets_targets": all(
            t["create_met"]
            and t["destroy_met"]
            and t["start_met"]
            and t["lookup_met"]
            and t["domain_lookup_met"]
            and t["php_lookup_met"]
            for t in targets.values()
        ),
    }
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
