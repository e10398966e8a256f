"""One full reconcile plan (observe every provider, then diff) with 1,000 and 10,000 sites.
Target: 10,000 sites in under 1 s of CPU, provider calls independent of the number of sites.

Half the sites are local static sites, half Docker PHP sites, all ACTIVE and routed. What is
real: the state store (SQLite, written straight in), Caddy with the whole rendered config of
every route loaded, the sites' directories, a private MariaDB. What is recorded: the Docker
listings (a container listing of 10,000 containers would not fit on this machine), served in
the shape the engine returns for a sparse list, by a stand-in for the Docker client that
counts its calls. Every site is in place, so the plan must find nothing.

Usage: .venv/bin/python bench/reconcile.py [--sizes 1000,10000]
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)  # not bench/, where dns.py would shadow dnspython

from tests.e2e.harness import CaddyServer, free_port  # noqa: E402
from tests.services_mariadb import PrivateMariaDB  # noqa: E402

from hostplane import naming  # noqa: E402
from hostplane.kernel import runtime  # noqa: E402
from hostplane.kernel.store.db import create_engine, migrate  # noqa: E402
from hostplane.kernel.store.types import new_id, utcnow  # noqa: E402
from hostplane.kernel.store.uow import Store  # noqa: E402
from hostplane.kinds.site.edge import desired_state  # noqa: E402
from hostplane.kinds.site.model import SiteStatus  # noqa: E402
from hostplane.kinds.site.table import SiteRow  # noqa: E402
from hostplane.providers.docker.marks import PLANE_LABEL  # noqa: E402
from hostplane.providers.docker.runtime import DockerRuntime  # noqa: E402
from hostplane.providers.runtime import RuntimeKind  # noqa: E402
from hostplane.reconciler.observe import plan  # noqa: E402
from hostplane.registry import registry  # noqa: E402
from hostplane.services import build_services  # noqa: E402
from hostplane.settings import Settings  # noqa: E402

TARGET_CPU_S = 1.0


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


def run(size: int, mariadb: PrivateMariaDB) -> dict[str, Any]:
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
            log_level="warning",
        )
        _fill(
            settings.state_database_url,
            [(n, "static", "local") for n in local] + [(n, "php", "docker") for n in docker_sites],
        )
        for name in local:
            (settings.sites_dir / name / "public").mkdir(parents=True)
        store = Store(create_engine(settings.state_database_url))
        services = build_services(settings, store)
        runtime.bind(registry(), services)
        docker_runtime = services.runtimes[RuntimeKind.DOCKER]
        assert isinstance(docker_runtime, DockerRuntime)
        recorded = RecordedDockerClient(
            docker_sites, settings.php_image, settings.nginx_image, services.plane_id
        )
        docker_runtime.engine._client = recorded  # type: ignore[assignment]
        t0 = time.perf_counter()
        services.edge.apply(desired_state(services))
        load_s = time.perf_counter() - t0

        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = plan(services)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        assert result.findings == [], result.findings[:5]
        assert not result.unreachable, result.unreachable
        services.close()
        return {
            "sites": size,
            "cpu_s": round(cpu, 3),
            "wall_s": round(wall, 3),
            "provider_calls": sum(result.calls.values()),
            "calls_by_provider": result.calls,
            "docker_calls": len(recorded.calls),
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
    try:
        results = {f"sites_{n}": run(n, mariadb) for n in sizes}
    finally:
        mariadb.stop()
    runs = list(results.values())
    largest = runs[-1]
    out = {
        **results,
        "target_cpu_s": TARGET_CPU_S,
        "cpu_target_met": largest["cpu_s"] < TARGET_CPU_S,
        "calls_independent_of_sites": len({r["provider_calls"] for r in runs}) == 1,
    }
    for r in runs:
        print(f"{r['sites']:>6} sites: {r['cpu_s']} s CPU, {r['provider_calls']} provider calls")
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
