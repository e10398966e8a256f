"""One full reconcile plan (observe every kind, then diff) with 1,000 and 10,000 sites, beside
its floor: reading the same inputs alone (bench/reconcile_floor.py), measured in the same run.
Target (issue 14): the plan's CPU per site at 10,000 sites at most 2x the floor's; provider
calls and store statements independent of the number of sites.

Half the sites are local static sites, half Docker PHP sites, all ACTIVE and routed. What is
real: the state store (SQLite, written straight in), Caddy with the whole rendered config of
every route loaded, the sites' directories, a private MariaDB, a private PowerDNS, the SFTP
server's files. What is recorded: the Docker listings (a container listing of 10,000
containers would not fit on this machine), served in the shape the engine returns for a sparse
list, by a stand-in for the Docker client that counts its calls. Every site is in place, so
the plan must find nothing. The plan and the floor are each measured REPEATS times,
alternately, after a first plan (which records the statements the floor sends); medians.
The first plan is as after a restart: the edge remembers no config, so it parses Caddy's and
compares it in full; the next ones find the bytes they found before for the same state (as
after an apply of its own) by their digest. Both are printed; the target is on the next ones.

Usage: .venv/bin/python bench/reconcile.py [--sizes 1000,10000]
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)  # not bench/, where dns.py would shadow dnspython

from tests.e2e.harness import CaddyServer, free_port  # noqa: E402
from tests.services_mariadb import PrivateMariaDB  # noqa: E402
from tests.services_pdns import API_KEY, PrivatePowerDNS  # noqa: E402

from bench.reconcile_floor import Floor, cpu_of, recording  # noqa: E402
from hostplane import naming  # noqa: E402
from hostplane.kernel import runtime  # noqa: E402
from hostplane.kernel.store.db import create_engine, migrate  # noqa: E402
from hostplane.kernel.store.types import new_id, utcnow  # noqa: E402
from hostplane.kernel.store.uow import Store  # noqa: E402
from hostplane.kinds.site.edge import desired_state  # noqa: E402
from hostplane.kinds.site.model import SiteStatus  # noqa: E402
from hostplane.kinds.site.table import SiteRow  # noqa: E402
from hostplane.kinds.tenant.steps import apply_sftp  # noqa: E402
from hostplane.providers.docker.marks import PLANE_LABEL  # noqa: E402
from hostplane.providers.docker.runtime import DockerRuntime  # noqa: E402
from hostplane.providers.local.runtime import LocalRuntime  # noqa: E402
from hostplane.providers.runtime import RuntimeKind  # noqa: E402
from hostplane.reconciler.observe import plan  # noqa: E402
from hostplane.registry import registry  # noqa: E402
from hostplane.services import build_services  # noqa: E402
from hostplane.settings import Settings  # noqa: E402

TARGET_RATIO = 2.0  # plan CPU per site / floor CPU per site, at the largest size
REPEATS = 3


class _Listed:
    """What docker-py gives for one entry of a sparse list: the engine's JSON as attrs."""

    def __init__(self, attrs: dict[str, Any]) -> None:
        self.attrs = attrs
        self.name = attrs.get("Name", "")


class _RecordedCollection:
    def __init__(self, entries: list[dict[str, Any]], calls: list[str], kind: str) -> None:
        self.entries, self.calls, self.kind = entries, calls, kind

    def list(self, **kwargs: Any) -> list[_Listed]:
        self.calls.append(self.kind)
        return [_Listed(e) for e in self.entries]


class RecordedDockerClient:
    """The listings an engine running these sites would return; counts the calls made."""

    def __init__(self, sites: list[str], php_image: str, nginx_image: str, plane: str) -> None:
        self.calls: list[str] = []
        containers, volumes, networks = [], [], []
        for site in sites:
            labels = {naming.MANAGED_LABEL: "true", naming.SITE_LABEL: site, PLANE_LABEL: plane}
            for name, image in (
                (naming.php_container(site), php_image),
                (naming.web_container(site), nginx_image),
            ):
                containers.append(
                    {"Names": [f"/{name}"], "Image": image, "State": "running", "Labels": labels}
                )
            volumes.append({"Name": naming.site_volume(site), "Labels": labels})
            networks.append({"Name": naming.site_network(site), "Labels": labels})
        self.containers = _RecordedCollection(containers, self.calls, "containers")
        self.volumes = _RecordedCollection(volumes, self.calls, "volumes")
        self.networks = _RecordedCollection(networks, self.calls, "networks")


def _fill(url: str, sites: list[tuple[str, str, str]]) -> None:
    engine = create_engine(url)
    migrate(engine)
    now = utcnow()
    rows = [
        {
            "id": new_id(),
            "name": name,
            "type": kind,
            "runtime": runtime,
            "status": SiteStatus.ACTIVE,
            "routed": True,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for name, kind, runtime in sites
    ]
    with engine.begin() as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(SiteRow.__table__.insert(), rows[start : start + 1000])
    engine.dispose()


def _median(samples: list[float]) -> float:
    return round(statistics.median(samples), 4)


def _per_site_us(cpu_s: float, size: int) -> float:
    return round(cpu_s / size * 1e6, 2)


def run(size: int, mariadb: PrivateMariaDB, pdns: PrivatePowerDNS) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"hostplane-bench-reconcile-{size}-"))
    caddy = CaddyServer(data_dir / "caddy")
    try:
        local = [f"s{i:05d}" for i in range(size // 2)]
        docker_sites = [f"d{i:05d}" for i in range(size - size // 2)]
        settings = Settings.load(
            data_dir=data_dir,
            sites_dir=data_dir / "sites",
            run_dir=data_dir / "run",
            edge_dir=data_dir / "edge",
            dns_dir=data_dir / "dns",
            caddy_admin_url=caddy.admin_url,
            edge_http_port=free_port(),
            edge_bind="127.0.0.1",
            edge_https_port=0,
            site_db_url=mariadb.url,
            pdns_api_url=f"http://127.0.0.1:{pdns.api_port}",
            pdns_api_key=API_KEY,
            log_level="warning",
        )
        _fill(
            settings.state_database_url,
            [(n, "static", "local") for n in local] + [(n, "php", "docker") for n in docker_sites],
        )
        for name in local:
            (settings.sites_dir / name / "public").mkdir(parents=True)
        engine = create_engine(settings.state_database_url)
        services = build_services(settings, Store(engine))
        runtime.bind(registry(), services)
        docker_runtime = services.runtimes[RuntimeKind.DOCKER]
        local_runtime = services.runtimes[RuntimeKind.LOCAL]
        assert isinstance(docker_runtime, DockerRuntime)
        assert isinstance(local_runtime, LocalRuntime)
        recorded = RecordedDockerClient(
            docker_sites, settings.php_image, settings.nginx_image, services.plane_id
        )
        docker_runtime.engine._client = recorded  # type: ignore[assignment]
        t0 = time.perf_counter()
        services.edge.apply(desired_state(services))
        load_s = time.perf_counter() - t0
        apply_sftp(services)  # as a start does: the SFTP server's files are in place

        # The first plan as after a restart: the edge remembers no config it loaded or found.
        services.edge._in_sync = None  # type: ignore[union-attr]
        gc.collect()
        with recording(engine) as sent:
            first_cpu = time.process_time()
            first = plan(services)  # the first after a start: nothing seen before
            first_cpu = time.process_time() - first_cpu
        assert first.findings == [], first.findings[:5]
        assert not first.unreachable, first.unreachable
        floor = Floor(
            engine=engine,
            admin_url=settings.caddy_admin,
            docker=recorded,
            docker_filters=docker_runtime.marks.list_filter(),
            directories=[
                local_runtime.legacy_dir,
                local_runtime.accounts.homes_dir,
                local_runtime.pools.config_dir,
            ],
            mariadb_account=services.databases._server.account(),
            recorded=sent,
        )
        plan_cpu: list[float] = []
        plan_wall: list[float] = []
        part_cpu: dict[str, list[float]] = {name: [] for name in floor.parts()}
        docker_calls = 0
        for _ in range(REPEATS):
            gc.collect()
            for name, read in floor.parts().items():
                part_cpu[name].append(cpu_of(read))
            gc.collect()
            calls_before = len(recorded.calls)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            result = plan(services)
            plan_cpu.append(time.process_time() - cpu0)
            plan_wall.append(time.perf_counter() - wall0)
            docker_calls = len(recorded.calls) - calls_before
            assert result.findings == [], result.findings[:5]
        services.close()
        parts = {name: _median(samples) for name, samples in part_cpu.items()}
        floor_runs = [sum(run) for run in zip(*part_cpu.values(), strict=True)]
        cpu, floor_cpu = _median(plan_cpu), _median(floor_runs)
        return {
            "sites": size,
            "cpu_s": cpu,
            "wall_s": _median(plan_wall),
            "floor_cpu_s": floor_cpu,
            "floor_parts_cpu_s": parts,
            "cpu_us_per_site": _per_site_us(cpu, size),
            "first_plan_cpu_s": round(first_cpu, 4),
            "floor_cpu_us_per_site": _per_site_us(floor_cpu, size),
            "ratio": round(cpu / floor_cpu, 2),
            "first_plan_ratio": round(first_cpu / floor_cpu, 2),
            "provider_calls": sum(result.calls.values()),
            "calls_by_provider": result.calls,
            "docker_calls": docker_calls,
            "store_statements": len(sent.store),
            "mariadb_statements": len(sent.mariadb),
            "edge_load_s": round(load_s, 2),
            "findings": len(result.findings),
        }
    finally:
        caddy.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    mariadb = PrivateMariaDB().start()
    pdns = PrivatePowerDNS()
    try:
        pdns.start()
        results = {f"sites_{n}": run(n, mariadb, pdns) for n in sizes}
    finally:
        pdns.stop()
        mariadb.stop()
    runs = list(results.values())
    largest = runs[-1]
    out = {
        **results,
        "target": f"plan CPU per site at {largest['sites']} sites <= {TARGET_RATIO}x the floor's",
        "target_ratio": TARGET_RATIO,
        "ratio": largest["ratio"],
        "first_plan_ratio": largest["first_plan_ratio"],  # shown, not the target
        "target_met": largest["ratio"] <= TARGET_RATIO,
        "calls_independent_of_sites": len({r["provider_calls"] for r in runs}) == 1,
        "statements_independent_of_sites": len(
            {(r["store_statements"], r["mariadb_statements"]) for r in runs}
        )
        == 1,
    }
    for r in runs:
        print(
            f"{r['sites']:>6} sites: plan {r['cpu_s']} s CPU ({r['cpu_us_per_site']} us/site),"
            f" floor {r['floor_cpu_s']} s ({r['floor_cpu_us_per_site']} us/site),"
            f" first plan {r['first_plan_cpu_s']} s (ratio {r['first_plan_ratio']}),"
            f" ratio {r['ratio']}, {r['provider_calls']} provider calls,"
            f" {r['store_statements']} store statements; floor parts {r['floor_parts_cpu_s']}"
        )
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
