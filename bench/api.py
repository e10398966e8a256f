"""API latency with a full store: 10,000 sites, then p50/p99 of `POST /v1/sites` and of one page
of `GET /v1/sites`, on SQLite and on PostgreSQL. Targets: POST p99 < 25 ms, GET page p99 < 15 ms.

The server is a real `hostctl api` process (API only: requests are recorded and enqueued, the
workflows wait for a worker, so only the request path is timed). The 10,000 existing sites are
written straight into the migrated store — the bench times the API, not provisioning.

Usage: .venv/bin/python bench/api.py [--sites 10000] [--requests 1000] [--backend sqlite|postgresql]
PostgreSQL: a private server is started, or set HOSTPLANE_TEST_POSTGRES_URL to a superuser URL.
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)  # not bench/, where dns.py would shadow dnspython

from tests.services import PostgresDatabases, PrivatePostgres, free_port  # noqa: E402

from hostplane.kernel.store.db import create_engine, ensure_database_exists, migrate  # noqa: E402
from hostplane.kernel.store.types import new_id, utcnow  # noqa: E402
from hostplane.kinds.site.model import SiteStatus  # noqa: E402
from hostplane.kinds.site.table import SiteRow  # noqa: E402

HOSTCTL = str(Path(sys.executable).parent / "hostctl")
TARGETS_MS = {"post_p99": 25.0, "get_page_p99": 15.0}


def fill(url: str, count: int) -> list[str]:
    engine = create_engine(url)
    ensure_database_exists(url)
    migrate(engine)
    names = [f"bench-{i:05d}" for i in range(count)]
    statuses = [SiteStatus.ACTIVE, SiteStatus.ACTIVE, SiteStatus.ACTIVE, SiteStatus.FAILED]
    now = utcnow()
    rows = [
        {
            "id": new_id(),
            "name": n,
            "type": "static",
            "runtime": "local",
            "status": statuses[i % len(statuses)],
            "routed": True,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for i, n in enumerate(names)
    ]
    with engine.begin() as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(SiteRow.__table__.insert(), rows[start : start + 1000])
    engine.dispose()
    return names


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p99_ms": round(percentile(samples, 0.99), 2),
        "max_ms": round(max(samples), 2),
    }


def run_backend(backend: str, url: str | None, sites: int, requests: int) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"hostplane-bench-{backend}-"))
    state_url = url or f"sqlite:///{data_dir / 'state.sqlite3'}"
    t0 = time.perf_counter()
    names = fill(state_url, sites)
    fill_s = time.perf_counter() - t0
    port = free_port()
    env = {
        **os.environ,
        "HOSTPLANE_DATA_DIR": str(data_dir),
        # Everything else the plane would keep in the host's own directories stays private too.
        "HOSTPLANE_SITES_DIR": str(data_dir / "sites"),
        "HOSTPLANE_RUN_DIR": str(data_dir / "run"),
        "HOSTPLANE_EDGE_DIR": str(data_dir / "edge"),
        "HOSTPLANE_DNS_DIR": str(data_dir / "dns"),
        "HOSTPLANE_DATABASE_URL": state_url,
        "HOSTPLANE_LISTEN": f"127.0.0.1:{port}",
        "HOSTPLANE_LOG_FORMAT": "json",
        "HOSTPLANE_LOG_LEVEL": "warning",
    }
    log = (data_dir / "api.log").open("ab")
    proc = subprocess.Popen(
        [HOSTCTL, "api"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"hostctl api did not start: {(data_dir / 'api.log').read_text()}")
            time.sleep(0.1)
        token = (data_dir / "api-token").read_text().strip()
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as api:
            for _ in range(50):  # warm-up: connections, caches, query plans
                api.get("/v1/sites", params={"limit": 50})
            posts: list[float] = []
            for i in range(requests):
                body = {"name": f"new-{i:05d}-{uuid.uuid4().hex[:6]}", "type": "static"}
                t = time.perf_counter()
                r = api.post("/v1/sites", json=body)
                posts.append((time.perf_counter() - t) * 1000)
                if r.status_code != 202:
                    raise SystemExit(f"POST /v1/sites answered {r.status_code}: {r.text}")
            gets: list[float] = []
            rng = random.Random(7)
            for _ in range(requests):
                params: dict[str, Any] = {"limit": 50}
                if rng.random() < 0.8:  # most pages are deep in the keyset, some are the first
                    params["after"] = rng.choice(names)
                if rng.random() < 0.3:
                    params["status"] = "ACTIVE"
                t = time.perf_counter()
                r = api.get("/v1/sites", params=params)
                gets.append((time.perf_counter() - t) * 1000)
                if r.status_code != 200 or not r.json()["items"]:
                    raise SystemExit(f"GET /v1/sites answered {r.status_code}: {r.text[:200]}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    post, get = summary(posts), summary(gets)
    result = {
        "sites": sites + requests,
        "fill_s": round(fill_s, 2),
        "post": post,
        "get_page": get,
        "meets_targets": post["p99_ms"] < TARGETS_MS["post_p99"]
        and get["p99_ms"] < TARGETS_MS["get_page_p99"],
    }
    print(f"{backend}: {json.dumps(result)}", file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()

    results: dict[str, Any] = {"targets_ms": TARGETS_MS}
    if args.backend in ("sqlite", "both"):
        results["sqlite"] = run_backend("sqlite", None, args.sites, args.requests)
    if args.backend in ("postgresql", "both"):
        server_url = os.environ.get("HOSTPLANE_TEST_POSTGRES_URL")
        private = None if server_url else PrivatePostgres().start()
        try:
            databases = PostgresDatabases(server_url or private.url)  # type: ignore[union-attr]
            name = f"hp_bench_{uuid.uuid4().hex[:8]}"
            url = databases.create(name)
            try:
                results["postgresql"] = run_backend("postgresql", url, args.sites, args.requests)
            finally:
                databases.drop(name)
        finally:
            if private is not None:
                private.stop()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
