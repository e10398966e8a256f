"""Tenant data services: databases (bench/data_databases.py) and caches (issue 17).

Create-to-usable of a cache with a user: from nothing to the first successful `SET` as the
cache's new ACL user, through the provider (`RedisInstances.ensure`, `RedisAcl.ensure_user`,
`SET` as that user), beside the same raw operations done directly in the same run (write the
same config and aclfile, start redis-server as the same system user, wait for `PING`,
`ACL SETUSER` with the same rule, `SET`). Runs alternate; medians, and minimums (on a shared
machine the spread is other work). Target: the provider's median within 15% or 20 ms of the
raw path's.

Memory: one idle instance (started, answering, no keys) beside a bare redis-server started
directly as the same user with nothing but a socket (the floor); then N idle instances (200)
started through the provider: total resident memory (VmRSS, which counts the shared binary
and libraries once per process), total PSS (shared pages divided among their users: what they
really cost together) and the drop in the machine's MemAvailable. Target: per instance within
15% of the floor.

Needs root (a system user of its own for the instances, removed at the end; setpriv). Every
instance has a socket in a private directory and no TCP port. The last line printed is one
JSON object with every figure; the exit code is 0 whether or not targets are met.

Usage: .venv/bin/python bench/data.py [--runs 9] [--instances 200]
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)  # not bench/, where dns.py would shadow dnspython

from tests.fixtures_redis import connect  # noqa: E402

from bench import data_databases as databases  # noqa: E402
from hostplane.observability import configure_logging  # noqa: E402
from hostplane.providers.redis.acl import RedisAcl, generate_password  # noqa: E402
from hostplane.providers.redis.config import InstancePaths, InstanceSpec, render  # noqa: E402
from hostplane.providers.redis.instances import RedisInstances  # noqa: E402
from hostplane.providers.redis.rules import (  # noqa: E402
    ADMIN_USER,
    base_acl_lines,
    password_hash,
    setuser_args,
)

TARGET_RATIO, TARGET_SLACK_MS, TARGET_MEMORY_RATIO = 0.15, 20.0, 0.15
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


class Bench:
    def __init__(self, root: Path, user: str) -> None:
        self.root = root
        self.user = user
        entry = pwd.getpwnam(user)
        self.uid, self.gid = entry.pw_uid, entry.pw_gid
        self.run_dir = root / "run"
        self.run_dir.mkdir(mode=0o755)
        os.chown(self.run_dir, self.uid, self.gid)
        self.passwords: dict[str, str] = {}
        self.instances = RedisInstances(
            root / "caches", "hpbench", lambda n: self.passwords.setdefault(n, generate_password())
        )
        self.acl = RedisAcl(self.instances)

    def spec(self, name: str) -> InstanceSpec:
        return InstanceSpec(name, self.user, self.user, self.run_dir / f"{name}.sock", 16)

    def setpriv(self, *argv: str) -> list[str]:
        ids = [f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", "--no-new-privs"]
        return ["setpriv", *ids, "--", *argv]

    def spawn(self, *argv: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.setpriv(*argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )


def wait_ping(socket: Path, user: str | None, password: str | None, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with connect(socket, user, password) as client:  # connects at once
                if client.ping():
                    return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.001)


def through_provider(bench: Bench, i: int) -> float:
    spec, password = bench.spec(f"p{i}"), generate_password()
    started = time.perf_counter()
    bench.instances.ensure(spec)
    bench.acl.ensure_user(spec.name, "app", password, "app:")
    with connect(spec.socket, "app", password) as app:
        app.set("app:first", "1")
    elapsed = time.perf_counter() - started
    bench.instances.remove(spec.name)
    return elapsed


def raw(bench: Bench, i: int) -> float:
    spec = bench.spec(f"r{i}")
    paths = InstancePaths(bench.root / "raw" / spec.name)
    admin, password = generate_password(), generate_password()
    started = time.perf_counter()
    paths.data.mkdir(parents=True)
    paths.config.write_text(render(spec, paths, "hpbenchraw"))
    paths.aclfile.write_text("\n".join(base_acl_lines(password_hash(admin))) + "\n")
    for path in (paths.data, paths.aclfile):
        os.chown(path, bench.uid, bench.gid)
    os.chmod(paths.root, 0o755)
    child = bench.spawn(REDIS, str(paths.config))
    try:
        wait_ping(spec.socket, ADMIN_USER, admin)
        with connect(spec.socket, ADMIN_USER, admin) as conn:
            conn.execute_command("ACL", "SETUSER", "app", *setuser_args("app:", password, True))
        with connect(spec.socket, "app", password) as app:
            app.set("app:first", "1")
        elapsed = time.perf_counter() - started
    finally:
        child.terminate()
        child.wait()
    shutil.rmtree(paths.root)
    return elapsed


def create_to_usable(bench: Bench, runs: int) -> dict[str, Any]:
    through_provider(bench, -1), raw(bench, -1)  # warm caches; not counted
    provider_ms, raw_ms = [], []
    for i in range(runs):
        provider_ms.append(round(through_provider(bench, i) * 1000, 2))
        raw_ms.append(round(raw(bench, i) * 1000, 2))
    p, r = statistics.median(provider_ms), statistics.median(raw_ms)
    return {
        "provider_ms": p,
        "raw_ms": r,
        "overhead_ms": round(p - r, 2),
        "ratio": round(p / r, 3),
        "target": "provider within 15% or 20 ms of raw",
        "met": p <= r * (1 + TARGET_RATIO) or p - r <= TARGET_SLACK_MS,
        "provider_min_ms": min(provider_ms),
        "raw_min_ms": min(raw_ms),
        "provider_runs_ms": provider_ms,
        "raw_runs_ms": raw_ms,
    }


def memory_kb(pid: int) -> tuple[int, int]:
    """(VmRSS, Pss) of one process, in kB."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    pss = int(next(line for line in rollup.splitlines() if line.startswith("Pss:")).split()[1])
    return rss, pss


def mem_available_kb() -> int:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    return int(next(line for line in meminfo if line.startswith("MemAvailable:")).split()[1])


def floor_memory(bench: Bench) -> tuple[int, int]:
    """A bare redis-server, directly: a socket, no config file, no persistence."""
    socket = bench.run_dir / "floor.sock"
    child = bench.spawn(
        REDIS, "--port", "0", "--unixsocket", str(socket), "--save", "", "--appendonly", "no"
    )
    try:
        wait_ping(socket, None, None)
        return memory_kb(child.pid)
    finally:
        child.terminate()
        child.wait()


def idle_memory(bench: Bench) -> dict[str, Any]:
    floor_rss, floor_pss = floor_memory(bench)
    spec = bench.spec("idle")
    bench.instances.ensure(spec)
    pid = next(s.pid for s in bench.instances.observe() if s.name == "idle")
    assert pid is not None
    rss, pss = memory_kb(pid)
    bench.instances.remove("idle")
    return {
        "rss_kb": rss,
        "pss_kb": pss,
        "floor_rss_kb": floor_rss,
        "floor_pss_kb": floor_pss,
        "target": "within 15% of a bare redis-server (RSS)",
        "met": rss <= floor_rss * (1 + TARGET_MEMORY_RATIO),
    }


def many_instances(bench: Bench, count: int, floor_rss_kb: int) -> dict[str, Any]:
    before = mem_available_kb()
    started = time.perf_counter()
    for i in range(count):
        bench.instances.ensure(bench.spec(f"m{i}"))
    start_all = time.perf_counter() - started
    states = bench.instances.observe()
    pids = [s.pid for s in states if s.pid is not None]
    usage = [memory_kb(pid) for pid in pids]
    after = mem_available_kb()
    started = time.perf_counter()
    for state in states:
        bench.instances.remove(state.name)
    remove_all = time.perf_counter() - started
    total_rss = sum(rss for rss, _ in usage)
    return {
        "count": count,
        "running": len(pids),
        "total_rss_mb": round(total_rss / 1024, 1),
        "total_pss_mb": round(sum(pss for _, pss in usage) / 1024, 1),
        "mem_available_drop_mb": round((before - after) / 1024, 1),
        "per_instance_rss_kb": round(total_rss / max(1, len(pids))),
        "floor_total_rss_mb": round(floor_rss_kb * count / 1024, 1),
        "start_all_s": round(start_all, 2),
        "remove_all_s": round(remove_all, 2),
        "target": "all running; per instance within 15% of the bare floor (RSS)",
        "met": len(pids) == count and total_rss <= floor_rss_kb * count * (1 + TARGET_MEMORY_RATIO),
    }


def with_bench(body: Callable[[Bench], dict[str, Any]]) -> dict[str, Any]:
    if os.geteuid() != 0:
        return {"error": "bench/data.py runs as root (a system user of its own, setpriv)"}
    user = f"hpb{secrets.token_hex(3)}"
    root = Path(tempfile.mkdtemp(prefix="hostplane-bench-data-"))
    root.chmod(0o711)
    subprocess.run(
        [
            "useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            user,
        ],
        check=True,
    )
    bench = Bench(root, user)
    try:
        return body(bench)
    finally:
        for state in bench.instances.observe():
            bench.instances.remove(state.name)
        subprocess.run(["userdel", user], check=False)
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--instances", type=int, default=200)
    args = parser.parse_args()
    configure_logging("json", "warning")  # the figures, not a line per instance on the terminal

    def body(bench: Bench) -> dict[str, Any]:
        database = databases.create_to_usable(args.runs)
        print(
            f"database + user, create to first login: {database['api_ms']} ms through the API "
            f"(its steps {database['steps_ms']} ms; raw {database['raw_ms']} ms, "
            f"ratio {database['ratio']})"
        )
        usable = create_to_usable(bench, args.runs)
        print(
            f"cache + user, create to first SET: {usable['provider_ms']} ms "
            f"(raw {usable['raw_ms']} ms, ratio {usable['ratio']})"
        )
        api = databases.caches_through_api(args.runs)
        a, r = api["api_ms"], usable["raw_ms"]
        usable["through_api"] = api | {
            "ratio": round(a / r, 3),
            "target": "API within 15% or 20 ms of raw",
            "met": a <= r * (1 + TARGET_RATIO) or a - r <= TARGET_SLACK_MS,
        }
        print(
            f"cache + user, create to first SET through the API: {a} ms (its steps "
            f"{api['steps_ms']} ms; raw {r} ms, ratio {round(a / r, 3)})"
        )
        idle = idle_memory(bench)
        print(
            f"idle instance: RSS {idle['rss_kb']} kB, PSS {idle['pss_kb']} kB "
            f"(bare floor RSS {idle['floor_rss_kb']} kB)"
        )
        many = many_instances(bench, args.instances, idle["floor_rss_kb"])
        print(
            f"{many['running']}/{many['count']} idle instances: RSS {many['total_rss_mb']} MB, "
            f"PSS {many['total_pss_mb']} MB, MemAvailable -{many['mem_available_drop_mb']} MB, "
            f"started in {many['start_all_s']} s"
        )
        return {
            "database_create_to_usable": database,
            "cache_create_to_usable": usable,
            "cache_idle_memory": idle,
            "caches_many": many,
        }

    try:
        out = with_bench(body)
    except Exception as exc:  # a figure that could not be taken is reported, not raised
        out = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
