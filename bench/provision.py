"""Provisioning time: from `POST /v1/sites` to the first 200 through the edge, for WordPress and
static sites on the local and Docker runtimes (median of N), beside the same raw operations done
directly with the same providers (no API, no state store, no workflow), and their ratio.

Both sides are timed alike: from just before the request (or the first provider call) to the
first 200 that a poller in a process of its own (bench/first_ok.py, watching from before the
clock starts) gets through the edge. A raw run's confirm is therefore no longer counted when
its site answered before it ended, as the plane's never was; and neither side's site is asked
for its page every few milliseconds while it installs (WordPress answers each with PHP).

Targets: control-plane overhead within 15% of the raw work or 10 ms, whichever is larger;
WordPress live in under 3 s on the local runtime and under 5 s on Docker. Starts a private
MariaDB, a private Docker engine (images from `make images`), a Caddy and a control plane. Each
kind's figures come with the median of each phase on both sides (the plane's from its
operation's step records: the wait before its workflow starts, each step and the gap before
it). The last line printed is one JSON object.

Usage: .venv/bin/python bench/provision.py [--runs 5] [--only static/local]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)  # not bench/, where dns.py would shadow dnspython

from tests.e2e.harness import CaddyServer, ControlPlane, free_port  # noqa: E402
from tests.services_docker import PrivateDockerd, ensure_images  # noqa: E402
from tests.services_mariadb import PrivateMariaDB  # noqa: E402

from hostplane import naming  # noqa: E402
from hostplane.providers.caddy.edge import CaddyEdge, CaddyEdgeConfig  # noqa: E402
from hostplane.providers.docker.runtime import DockerRuntime, DockerRuntimeConfig  # noqa: E402
from hostplane.providers.edge import EdgeRoute, EdgeState  # noqa: E402
from hostplane.providers.local.accounts import TenantAccounts  # noqa: E402
from hostplane.providers.local.fpm import PhpFpmPools  # noqa: E402
from hostplane.providers.local.runtime import LocalRuntime  # noqa: E402
from hostplane.providers.local.users import Owner  # noqa: E402
from hostplane.providers.mariadb.provider import MariaDBProvider, generate_password  # noqa: E402
from hostplane.providers.runtime import RuntimeKind, SiteRuntime, SiteSecrets, SiteSpec, SiteType  # noqa: E402  # noqa: E402
from hostplane.providers.wordpress import (  # noqa: E402
    WordPressInstaller,
    generate_admin_password,
    generate_salts,
)

Phases = dict[str, float]
KINDS = [("static", "local"), ("wordpress", "local"), ("static", "docker"), ("wordpress", "docker")]
# Overhead (the plane's time beyond the raw work) within 15% of the raw work or 10 ms,
# whichever is larger.
TARGET_OVERHEAD = 0.15
TARGET_OVERHEAD_MS = 10.0
TARGET_WORDPRESS_S = {"local": 3.0, "docker": 5.0}


class FirstOk:
    """bench/first_ok.py in a process of its own, asked to watch for a host's first 200 through
    the edge: both sides are timed by it alike, and it takes nothing from the work it times."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("first_ok.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in, self._out = self.proc.stdin, self.proc.stdout
        if self._out.readline().strip() != "ready":
            raise SystemExit("bench/first_ok.py did not start")

    def watch(self, port: int, host: str) -> None:
        """Start watching (before the clock starts)."""
        self._in.write(f"{port} {host}\n")
        self._in.flush()

    def seen(self) -> float:
        """The time.monotonic() of the first 200 of the host last watched."""
        line = self._out.readline().strip()
        if not line or line == "timeout":
            raise SystemExit("a site never answered 200 through the edge")
        return float(line)

    def close(self) -> None:
        self._in.close()
        self.proc.wait(timeout=10)


def _at(stamp: str, origin: float) -> float:
    """ms from `origin` (a time.time()) to an ISO timestamp of the plane's."""
    return round((datetime.fromisoformat(stamp).timestamp() - origin) * 1000, 1)


def plane_phases(op: dict[str, Any], origin: float, answered: float, served: float) -> Phases:
    """Where one provision's time went, in ms: the request, the wait for its workflow to
    start, each step (and the gap before it: the engine's checkpoints, the step records), the
    first 200 seen through the edge after the edge step ended, the operation's end after the
    last step's."""
    phases: Phases = {"post_answered": answered}
    phases["workflow_started"] = round(_at(op["started_at"], origin) - answered, 1)
    last = _at(op["started_at"], origin)
    for step in op["steps"]:
        start, end = _at(step["started_at"], origin), _at(step["finished_at"], origin)
        phases[f"gap_before_{step['name']}"] = round(start - last, 1)
        phases[step["name"]] = round(end - start, 1)
        if step["name"] == "edge":
            phases["first_200_after_edge"] = round(served - end, 1)
        last = end
    phases["finished_after_last_step"] = round(_at(op["finished_at"], origin) - last, 1)
    return phases


def median_phases(runs: list[Phases]) -> Phases:
    return {k: round(statistics.median(r.get(k, 0.0) for r in runs), 1) for k in runs[0]}


def through_control_plane(
    cp: ControlPlane, first_ok: FirstOk, site_type: str, runtime: str
) -> tuple[float, Phases]:
    name = f"b{site_type[0]}{runtime[0]}-{uuid.uuid4().hex[:6]}"
    body: dict[str, Any] = {"name": name, "type": site_type, "runtime": runtime}
    if site_type == "wordpress":
        body["admin_email"] = "bench@example.org"
    first_ok.watch(cp.edge_port, f"{name}.localhost:{cp.edge_port}")
    with cp.api() as api:
        origin, started = time.time(), time.monotonic()
        r = api.post("/v1/sites", json=body)
        answered = round((time.monotonic() - started) * 1000, 1)
        if r.status_code != 202:
            raise SystemExit(f"POST /v1/sites: {r.status_code} {r.text}")
        op_id = r.json()["operation"]["id"]
        elapsed = first_ok.seen() - started
        op = cp.wait_operation(op_id, timeout=120)
        if op["status"] != "SUCCEEDED":
            raise SystemExit(f"provision of {name} failed: {op['error']}")
        cp.wait_operation(api.delete(f"/v1/sites/{name}").json()["operation"]["id"], timeout=120)
    return elapsed, plane_phases(op, origin, answered, round(elapsed * 1000, 1))


class Raw:
    """The same provider calls the workflow makes, in the same order, with nothing around them."""

    def __init__(self, root: Path, db_url: str, docker_host: str | None) -> None:
        root.mkdir(mode=0o755)
        self.caddy = CaddyServer(root / "caddy")
        self.port = free_port()
        self.edge = CaddyEdge(
            CaddyEdgeConfig(
                admin_url=self.caddy.admin_url,
                http_listen=f"127.0.0.1:{self.port}",
                confirm_url=f"http://127.0.0.1:{self.port}",
                state_dir=root / "edge",
            )
        )
        self.db = MariaDBProvider(db_url, owner="hpbenchraw")  # the raw path, a plane of its own
        pools = PhpFpmPools("php-fpm8.2", root / "run" / "php-fpm", root / "php-fpm", 5)
        owner = Owner(f"bench{uuid.uuid4().hex[:6]}")
        # Each site its own tenant's, as a site created without one: its account (a system user
        # and its home) is made by the files step and removed with the site.
        self.accounts = TenantAccounts(root / "tenants", owner)
        self.runtimes: dict[str, SiteRuntime] = {
            "local": LocalRuntime(
                root / "sites", pools, Path("/usr/share/wordpress"), owner, self.accounts
            ),
        }
        if docker_host is not None:
            self.runtimes["docker"] = DockerRuntime(
                DockerRuntimeConfig(
                    docker_host=docker_host,
                    tls_dir=None,
                    php_image="hostplane/php-fpm:8.2",
                    nginx_image="hostplane/nginx:1.22",
                    memory="256m",
                    cpus=1.0,
                    run_dir=root / "run" / "docker",
                    owner=f"hpbench{uuid.uuid4().hex[:8]}",
                    db_socket=self.db.socket_path,
                )
            )
        self.installer = WordPressInstaller(f"http://127.0.0.1:{self.port}")

    def provision(self, first_ok: FirstOk, site_type: str, runtime: str) -> tuple[float, Phases]:
        name = f"r{site_type[0]}{runtime[0]}-{uuid.uuid4().hex[:6]}"
        host = f"{name}.localhost:{self.port}"
        first_ok.watch(self.port, host)
        spec = SiteSpec(
            name=name,
            type=SiteType(site_type),
            runtime=RuntimeKind(runtime),
            hostname=f"{name}.localhost",
            url=f"http://{host}",
            admin_email="bench@example.org",
        )
        rt = self.runtimes[runtime]
        phases: Phases = {}
        started = last = time.monotonic()

        def done(phase: str) -> None:
            nonlocal last
            now = time.monotonic()
            phases[phase] = round((now - last) * 1000, 1)
            last = now

        secrets = None
        if spec.type is SiteType.WORDPRESS:
            password = generate_password()
            db, user = naming.site_database(name), naming.site_database_user(name)
            self.db.ensure_database(db, user, password)
            self.db.check_login(user, password, db)
            secrets = SiteSecrets(
                db, user, password, f"localhost:{self.db.socket_path()}", generate_salts()
            )
            done("database")
        rt.ensure_files(spec, secrets)
        done("files")
        rt.ensure_app(spec)
        done("app")
        if runtime == "docker":
            rt.ensure_web(spec)
            done("web")
        route = EdgeRoute(naming.edge_route_id(name), (spec.hostname,), rt.upstream(spec))
        self.edge.apply(EdgeState((route,)))
        done("edge")
        self.edge.confirm(spec.hostname, route.route_id)
        done("confirm")
        admin = generate_admin_password()
        if spec.type is SiteType.WORDPRESS:
            self.installer.install(host, title=name, email="bench@example.org", password=admin)
            done("install")
        seen = first_ok.seen()
        elapsed = seen - started
        phases["first_200_after_last_phase"] = round((seen - last) * 1000, 1)
        if spec.type is SiteType.WORDPRESS:  # the workflow too proves the login after the 200
            self.installer.check_login(host, admin)
        self.edge.apply(EdgeState(()))
        if runtime == "docker":
            rt.remove_web(spec)
        rt.remove_app(spec)
        rt.remove_files(spec)
        if runtime == "local":
            self.accounts.remove(LocalRuntime.account(spec))
        if spec.type is SiteType.WORDPRESS:
            self.db.remove_database(naming.site_database(name), naming.site_database_user(name))
        return elapsed, phases

    def close(self) -> None:
        self.edge.close()
        self.caddy.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", help="one kind, e.g. static/local")
    args = parser.parse_args()
    kinds = [k for k in KINDS if not args.only or "/".join(k) == args.only]
    root = Path(tempfile.mkdtemp(prefix="hostplane-bench-provision-"))
    root.chmod(0o755)
    mariadb = PrivateMariaDB().start()
    # Docker only for the kinds that run on it (its images take minutes the first time).
    dockerd = PrivateDockerd().start() if any(r == "docker" for _, r in kinds) else None
    cp: ControlPlane | None = None
    raw: Raw | None = None
    first_ok = FirstOk()
    try:
        env = {"HOSTPLANE_SITE_DB_URL": mariadb.url, "HOSTPLANE_LOG_LEVEL": "warning"}
        if dockerd is not None:
            ensure_images(dockerd.host)
            env["HOSTPLANE_DOCKER_HOST"] = dockerd.host
        cp = ControlPlane(root / "cp" / "data", extra_env=env).start()
        raw = Raw(root / "raw", mariadb.url, dockerd.host if dockerd else None)
        results: dict[str, Any] = {}
        for site_type, runtime in kinds:
            through: list[float] = []
            direct: list[float] = []
            plane_runs: list[Phases] = []
            raw_runs: list[Phases] = []
            for _ in range(args.runs):  # interleaved: the machine's drift weighs on both alike
                elapsed, phases = through_control_plane(cp, first_ok, site_type, runtime)
                through.append(elapsed)
                plane_runs.append(phases)
                elapsed, phases = raw.provision(first_ok, site_type, runtime)
                direct.append(elapsed)
                raw_runs.append(phases)
            cp_s, raw_s = statistics.median(through), statistics.median(direct)
            allowed_ms = max(TARGET_OVERHEAD * raw_s * 1000, TARGET_OVERHEAD_MS)
            entry = {
                "control_plane_s": round(cp_s, 3),
                "raw_s": round(raw_s, 3),
                "ratio": round(cp_s / raw_s, 3),
                "overhead": round(cp_s / raw_s - 1, 3),
                "overhead_ms": round((cp_s - raw_s) * 1000, 1),
                "target_overhead_ms": round(allowed_ms, 1),
                "holds": (cp_s - raw_s) * 1000 <= allowed_ms,
                # Medians per phase, in ms (the plane's from its operation's step records).
                "plane_phases_ms": median_phases(plane_runs),
                "raw_phases_ms": median_phases(raw_runs),
            }
            results[f"{site_type}/{runtime}"] = entry
            print(f"{site_type}/{runtime}: {json.dumps(entry)}", file=sys.stderr)
        results["targets"] = {
            "overhead": TARGET_OVERHEAD,
            "overhead_ms_at_least": TARGET_OVERHEAD_MS,
            "wordpress_s": TARGET_WORDPRESS_S,
        }
        results["meets_targets"] = all(results[f"{t}/{r}"]["holds"] for t, r in kinds) and all(
            results[f"wordpress/{r}"]["control_plane_s"] < s
            for r, s in TARGET_WORDPRESS_S.items()
            if f"wordpress/{r}" in results
        )
        results["runs"] = args.runs
        print(json.dumps(results))
    finally:
        first_ok.close()
        if raw is not None:
            raw.close()
        if cp is not None:
            cp.stop()
        if dockerd is not None:
            dockerd.stop()
        mariadb.stop()


if __name__ == "__main__":
    main()
