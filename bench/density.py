"""Density: what WordPress and static sites on the local runtime cost the machine once idle,
and what the control plane itself costs at rest with them (issue 14).

A real `hostctl up` with a private MariaDB makes `--wordpress` WordPress sites (each in a
tenant of its own, as customers' sites are) and `--static` static sites (in one tenant with a
plan that allows them), all through the API. Once every PHP-FPM pool is idle (ondemand: its
workers leave after 30 s without a request), it measures:

- the machine's used memory (MemTotal - MemAvailable) before and after, per site;
- each WordPress site's PHP-FPM processes (master and any worker), as PSS (proportional set
  size: shared pages split among their users, so the sum is what the sites really hold) and as
  RSS; beside it the floor: one bare `php-fpm` master started directly with a minimal
  ondemand pool, the same binary, nothing of Hostplane;
- the control plane's RSS and PSS, and its CPU over `--idle-seconds` doing nothing.

Targets: an idle WordPress site's PHP-FPM at most 8 MB (PSS), an idle control plane under 1%
of one core. The last line printed is one JSON object.

Usage: .venv/bin/python bench/density.py [--wordpress 100] [--static 1000]
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
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)  # not bench/, where dns.py would shadow dnspython

from tests.e2e.harness import ControlPlane  # noqa: E402
from tests.services_mariadb import PrivateMariaDB  # noqa: E402

TARGET_WORDPRESS_PSS_MB = 8.0
TARGET_IDLE_CPU = 0.01  # of one core
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
TICKS = os.sysconf("SC_CLK_TCK")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def used_mb() -> float:
    info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    kb = int(info["MemTotal"].split()[0]) - int(info["MemAvailable"].split()[0])
    return kb / 1024


def memory_kb(pid: int) -> tuple[int, int]:
    """(PSS, RSS) of a process in kB, from smaps_rollup."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        fields[name] = int(rest.split()[0])
    return fields["Pss"], fields["Rss"]


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(stat[11]) + int(stat[12])) / TICKS  # utime, stime


def fpm_masters(cp: ControlPlane) -> dict[str, int]:
    """The plane's PHP-FPM masters, by pool pid file name."""
    masters = {}
    for pid_file in (cp.run_dir / "php-fpm").glob("*.pid"):
        pid = int(pid_file.read_text().strip())
        if b"php-fpm" in Path(f"/proc/{pid}/cmdline").read_bytes():
            masters[pid_file.stem] = pid
    return masters


def wait_idle(masters: dict[str, int], timeout: float) -> float:
    """Until no pool has a worker (ondemand's idle timeout ends them); the seconds waited."""
    started = time.monotonic()
    while any(children(pid) for pid in masters.values()):
        if time.monotonic() - started > timeout:
            busy = sum(bool(children(pid)) for pid in masters.values())
            raise SystemExit(f"{busy} PHP-FPM pools still have workers after {timeout} s")
        time.sleep(1)
    return time.monotonic() - started


def summary(values: list[float]) -> dict[str, float]:
    return {
        "mean": round(statistics.fmean(values), 2),
        "median": round(statistics.median(values), 2),
        "max": round(max(values), 2),
    }


def bare_fpm_master(root: Path) -> tuple[int, int]:
    """The floor: (PSS, RSS) in kB of one php-fpm master started directly, ondemand, idle."""
    binary = shutil.which("php-fpm8.2") or "php-fpm8.2"
    root.mkdir(parents=True)
    config = root / "fpm.conf"
    pid_file = root / "fpm.pid"
    config.write_text(
        "\n".join(
            [
                "[global]",
                f"pid = {pid_file}",
                f"error_log = {root / 'fpm.log'}",
                "daemonize = yes",
                "[bare]",
                "user = nobody",
                "group = nogroup",
                f"listen = {root / 'fpm.sock'}",
                "pm = ondemand",
                "pm.max_children = 5",
                "pm.process_idle_timeout = 30s",
                "",
            ]
        )
    )
    subprocess.run([binary, "-y", str(config)], check=True)
    pid = int(pid_file.read_text().strip())
    try:
        time.sleep(1)  # its start-up allocations settle
        return memory_kb(pid)
    finally:
        os.kill(pid, 15)


def make_sites(cp: ControlPlane, bodies: list[dict[str, Any]], what: str) -> None:
    """POST each body, at most 4 at once; every operation must succeed."""
    done = 0

    def one(body: dict[str, Any]) -> None:
        nonlocal done
        with cp.api() as api:
            r = api.post("/v1/sites", json=body)
            if r.status_code != 202:
                raise SystemExit(f"POST /v1/sites {body['name']}: {r.status_code} {r.text}")
            op = cp.wait_operation(r.json()["operation"]["id"], timeout=600)
        if op["status"] != "SUCCEEDED":
            raise SystemExit(f"{body['name']} failed: {op['error']}")
        done += 1
        if done % 25 == 0 or done == len(bodies):
            say(f"  {what}: {done}/{len(bodies)}")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, bodies))


def tenant_with_room(cp: ControlPlane, tenant: str, sites: int) -> None:
    """A tenant whose plan allows `sites` sites: the default plan's limits, sites raised."""
    with cp.api() as api:
        default = next(p for p in api.get("/v1/plans").json()["items"] if p["name"] == "default")
        plan = {k: v for k, v in default.items() if k != "tenants"}
        plan.update(name="density", sites=max(sites, plan["sites"]))
        r = api.post("/v1/plans", json=plan)
        if r.status_code != 201:
            raise SystemExit(f"POST /v1/plans: {r.status_code} {r.text}")
        r = api.post("/v1/tenants", json={"name": tenant, "plan": "density"})
        if r.status_code != 202:
            raise SystemExit(f"POST /v1/tenants: {r.status_code} {r.text}")
        cp.wait_operation(r.json()["operation"]["id"])


def run(wordpress: int, static: int, idle_seconds: float) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="hostplane-bench-density-"))
    root.chmod(0o755)
    floor_pss, floor_rss = bare_fpm_master(root / "bare")
    mariadb = PrivateMariaDB().start()
    env = {"HOSTPLANE_SITE_DB_URL": mariadb.url, "HOSTPLANE_LOG_LEVEL": "warning"}
    cp = ControlPlane(root / "cp" / "data", extra_env=env)
    try:
        cp.start()
        assert cp.proc is not None
        plane = cp.proc.pid
        time.sleep(2)  # its start-up work (first reconcile of nothing, daemons) settles
        before_mb, plane_before = used_mb(), memory_kb(plane)
        tag = uuid.uuid4().hex[:4]
        say(f"making {wordpress} WordPress sites")
        make_sites(
            cp,
            [
                {"name": f"w{tag}{i:03d}", "type": "wordpress", "admin_email": "d@example.org"}
                for i in range(wordpress)
            ],
            "wordpress",
        )
        if static:
            tenant_with_room(cp, f"st{tag}", static)
        say(f"making {static} static sites")
        make_sites(
            cp,
            [
                {"name": f"s{tag}{i:04d}", "type": "static", "tenant": f"st{tag}"}
                for i in range(static)
            ],
            "static",
        )
        masters = fpm_masters(cp)
        if len(masters) != wordpress:
            raise SystemExit(f"{len(masters)} PHP-FPM masters for {wordpress} WordPress sites")
        say("waiting for every PHP-FPM pool to be idle")
        waited = wait_idle(masters, timeout=120)
        after_mb = used_mb()
        per_site = [memory_kb(pid) for pid in masters.values()]
        pss_mb = [pss / 1024 for pss, _ in per_site]
        rss_mb = [rss / 1024 for _, rss in per_site]
        say(f"measuring the idle plane for {idle_seconds} s")
        cpu_start, wall_start = cpu_seconds(plane), time.monotonic()
        time.sleep(idle_seconds)
        idle_cpu = (cpu_seconds(plane) - cpu_start) / (time.monotonic() - wall_start)
        plane_after = memory_kb(plane)
        sites = wordpress + static
        result: dict[str, Any] = {
            "wordpress_sites": wordpress,
            "static_sites": static,
            "machine_used_mb": {"before": round(before_mb), "after": round(after_mb)},
            "machine_mb_per_site": round((after_mb - before_mb) / sites, 2) if sites else None,
            "wordpress_fpm_pss_mb": summary(pss_mb) if pss_mb else None,
            "wordpress_fpm_rss_mb": summary(rss_mb) if rss_mb else None,
            "floor_bare_fpm_master_mb": {
                "pss": round(floor_pss / 1024, 2),
                "rss": round(floor_rss / 1024, 2),
            },
            "waited_for_idle_s": round(waited, 1),
            "plane_mb": {
                "rss_before": round(plane_before[1] / 1024, 1),
                "pss_before": round(plane_before[0] / 1024, 1),
                "rss_after": round(plane_after[1] / 1024, 1),
                "pss_after": round(plane_after[0] / 1024, 1),
            },
            "plane_idle_cpu": round(idle_cpu, 4),
            "targets": {
                "wordpress_fpm_pss_mb": TARGET_WORDPRESS_PSS_MB,
                "plane_idle_cpu": TARGET_IDLE_CPU,
            },
        }
        result["meets_targets"] = idle_cpu < TARGET_IDLE_CPU and (
            not pss_mb or statistics.median(pss_mb) <= TARGET_WORDPRESS_PSS_MB
        )
        return result
    finally:
        cp.stop()
        cp.clean_host()
        mariadb.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wordpress", type=int, default=100)
    parser.add_argument("--static", type=int, default=1000)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    args = parser.parse_args()
    print(json.dumps(run(args.wordpress, args.static, args.idle_seconds)))


if __name__ == "__main__":
    main()
