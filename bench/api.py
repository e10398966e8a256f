"""API latency with a full store: 10,000 sites, then p50/p99 of `POST /v1/sites` and of one page
of `GET /v1/sites`, on SQLite and on PostgreSQL, each beside its floor measured in the same run:
the same SQL (the insert of a site and its operation in one transaction; the page query) through
a bare ASGI app (bench/api_floor.py) on the same store, served by uvicorn with the same settings.
Target: each endpoint's p99 within 1.5x its floor's p99 + 2 ms.

The server is a real `hostctl api` process (API only: requests are recorded and enqueued, the
workflows wait for a worker, so only the request path is timed). The 10,000 existing sites are
written straight into the migrated store — the bench times the API, not provisioning. Requests
alternate between the plane and its floor, so the machine's drift weighs on both alike.

Usage: .venv/bin/python bench/api.py [--sites 10000] [--requests 1000] [--backend sqlite|postgresql]
  [--profile DIR]: py-spy records the plane's server while it answers (DIR/<backend>-<endpoint>.txt,
  collapsed stacks); py-spy must be installed (`uv pip install py-spy`).
PostgreSQL: a private server is started, or set HOSTPLANE_TEST_POSTGRES_URL to a superuser URL.
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
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
FLOOR = str(Path(__file__).resolve().parent / "api_floor.py")
TARGET = {"ratio": 1.5, "plus_ms": 2.0}  # p99 <= ratio x floor p99 + plus_ms


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


def target_ms(floor_p99: float) -> float:
    return round(TARGET["ratio"] * floor_p99 + TARGET["plus_ms"], 2)


class Server:
    """A server process on `port`, up once its /healthz answers 200."""

    def __init__(self, what: str, cmd: list[str], env: dict[str, str], port: int, log: Path):
        self.what, self.log = what, log
        self.base = f"http://127.0.0.1:{port}"
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                cmd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"{what} did not start: {log.read_text()}")
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Profile:
    """py-spy recording `pid` until stopped (nothing when `out` is None)."""

    def __init__(self, pid: int, out: Path | None) -> None:
        self.proc = None
        if out is not None:
            spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
            cmd = [spy, "record", "-p", str(pid), "-f", "raw", "-r", "250", "-o", str(out)]
            self.proc = subprocess.Popen([*cmd, "--nonblocking"], stdout=subprocess.DEVNULL)
            time.sleep(1)  # attached before the first timed request

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            self.proc.wait(timeout=60)


def cpu_s(pid: int) -> float:
    """The process's CPU (user + system, all its threads) so far."""
    stat = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def timed(client: httpx.Client, method: str, url: str, expect: int, **kwargs: Any) -> float:
    t = time.perf_counter()
    r = client.request(method, url, **kwargs)
    elapsed = (time.perf_counter() - t) * 1000
    if r.status_code != expect or (method == "GET" and not r.json()["items"]):
        answer = f"{r.status_code}: {r.text[:200]}"
        raise SystemExit(f"{method} {client.base_url}{url} answered {answer}")
    return elapsed


def run_backend(
    backend: str, url: str | None, sites: int, requests: int, profile: Path | None
) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"hostplane-bench-{backend}-"))
    state_url = url or f"sqlite:///{data_dir / 'state.sqlite3'}"
    t0 = time.perf_counter()
    names = fill(state_url, sites)
    fill_s = time.perf_counter() - t0
    port, floor_port = free_port(), free_port()
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
    plane = Server("hostctl api", [HOSTCTL, "api"], env, port, data_dir / "api.log")
    try:
        floor = Server(
            "the floor",
            [sys.executable, FLOOR, state_url, f"127.0.0.1:{floor_port}"],
            env,
            floor_port,
            data_dir / "floor.log",
        )
    except BaseException:
        plane.stop()
        raise
    samples: dict[str, list[float]] = {
        "post": [],
        "post_floor": [],
        "get_page": [],
        "get_page_floor": [],
    }
    cpu: dict[str, float] = {}  # CPU of each server over its requests: load-proof, unlike time
    try:
        token = (data_dir / "api-token").read_text().strip()
        headers = {"Authorization": f"Bearer {token}"}
        with (
            httpx.Client(base_url=plane.base, headers=headers, timeout=30) as api,
            httpx.Client(base_url=floor.base, timeout=30) as bare,
        ):
            for _ in range(50):  # warm-up: connections, caches, query plans
                api.get("/v1/sites", params={"limit": 50})
                bare.get("/v1/sites", params={"limit": 50})
            spy = Profile(plane.proc.pid, profile and profile / f"{backend}-post.txt")
            cpu_before = {"post": cpu_s(plane.proc.pid), "post_floor": cpu_s(floor.proc.pid)}
            for i in range(requests):
                pair = [
                    (api, "post", {"name": f"new-{i:05d}-{uuid.uuid4().hex[:6]}"}),
                    (bare, "post_floor", {"name": f"flo-{i:05d}-{uuid.uuid4().hex[:6]}"}),
                ]
                for client, key, body in pair if i % 2 else pair[::-1]:
                    body["type"] = "static"
                    samples[key].append(timed(client, "POST", "/v1/sites", 202, json=body))
            spy.stop()
            cpu["post"] = cpu_s(plane.proc.pid) - cpu_before["post"]
            cpu["post_floor"] = cpu_s(floor.proc.pid) - cpu_before["post_floor"]
            rng = random.Random(7)
            spy = Profile(plane.proc.pid, profile and profile / f"{backend}-get_page.txt")
            cpu_before = {"get": cpu_s(plane.proc.pid), "get_floor": cpu_s(floor.proc.pid)}
            for i in range(requests):
                params: dict[str, Any] = {"limit": 50}
                if rng.random() < 0.8:  # most pages are deep in the keyset, some are the first
                    params["after"] = rng.choice(names)
                if rng.random() < 0.3:
                    params["status"] = "ACTIVE"
                both = [(api, "get_page"), (bare, "get_page_floor")]
                for client, key in both if i % 2 else both[::-1]:
                    samples[key].append(timed(client, "GET", "/v1/sites", 200, params=params))
            spy.stop()
            cpu["get_page"] = cpu_s(plane.proc.pid) - cpu_before["get"]
            cpu["get_page_floor"] = cpu_s(floor.proc.pid) - cpu_before["get_floor"]
    finally:
        floor.stop()
        plane.stop()
    result: dict[str, Any] = {"sites": sites + 2 * requests, "fill_s": round(fill_s, 2)}
    for endpoint in ("post", "get_page"):
        figures, floor_figures = summary(samples[endpoint]), summary(samples[f"{endpoint}_floor"])
        target = target_ms(floor_figures["p99_ms"])
        result[endpoint] = {
            **figures,
            "cpu_ms_per_request": round(cpu[endpoint] * 1000 / requests, 2),
            "floor": {
                **floor_figures,
                "cpu_ms_per_request": round(cpu[f"{endpoint}_floor"] * 1000 / requests, 2),
            },
            "target_p99_ms": target,
            "holds": figures["p99_ms"] <= target,
        }
    result["meets_targets"] = result["post"]["holds"] and result["get_page"]["holds"]
    print(f"{backend}: {json.dumps(result)}", file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--profile", type=Path, help="py-spy the plane's server into this folder")
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)

    results: dict[str, Any] = {"target": TARGET}
    if args.backend in ("sqlite", "both"):
        results["sqlite"] = run_backend("sqlite", None, args.sites, args.requests, args.profile)
    if args.backend in ("postgresql", "both"):
        server_url = os.environ.get("HOSTPLANE_TEST_POSTGRES_URL")
        private = None if server_url else PrivatePostgres().start()
        try:
            databases = PostgresDatabases(server_url or private.url)  # type: ignore[union-attr]
            name = f"hp_bench_{uuid.uuid4().hex[:8]}"
            url = databases.create(name)
            try:
                results["postgresql"] = run_backend(
                    "postgresql", url, args.sites, args.requests, args.profile
                )
            finally:
                databases.drop(name)
        finally:
            if private is not None:
                private.stop()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
