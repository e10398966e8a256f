"""Tenant data services: databases (issue 17), the part of bench/data.py that needs a control
plane.

Create-to-usable of a database with a user: from nothing to the first successful login with
the new password, through the API of a real `hostctl up` (POST the database, wait for its
operation, POST a user, wait, log in with the password shown once), beside the same raw
operations done directly as MariaDB's root in the same run (CREATE DATABASE, CREATE USER,
GRANT on the escaped name, log in). Runs alternate; medians. The time the plane's steps spent
(their `ms` in the operations) is printed beside: what the provider costs, the rest being
the kernel's (intent, durable operation, polling). Target: the API path within 15% or 20 ms
of the raw path.

Create-to-usable of a cache with a user the same way: POST the cache, wait, POST a user,
wait, the first `SET` as that user on the socket the answer names (`caches_through_api`,
set beside bench/data.py's raw path by its caller).

A private MariaDB (as the test suite's) and a private plane, both stopped at the end.
"""

from __future__ import annotations

import secrets
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

import httpx
import pymysql
import redis
from tests.e2e.harness import ControlPlane
from tests.services_mariadb import PrivateMariaDB

from bench.dns import settle

TARGET_RATIO, TARGET_SLACK_MS = 0.15, 20.0


@contextmanager
def plane_with_mariadb() -> Iterator[tuple[ControlPlane, PrivateMariaDB]]:
    server = PrivateMariaDB().start()
    cp = ControlPlane(
        Path(mkdtemp(prefix="hostplane-bench-db-")) / "data",
        extra_env={"HOSTPLANE_SITE_DB_URL": server.url, "HOSTPLANE_LOG_LEVEL": "warning"},
    )
    try:
        cp.start()
        yield cp, server
    finally:
        cp.stop()
        cp.clean_host()
        server.stop()


def accepted(response: httpx.Response) -> str:
    """The operation of a request answered 202."""
    assert response.status_code == 202, response.text
    return str(response.json()["operation"]["id"])


def login(server: PrivateMariaDB, user: str, password: str, database: str) -> None:
    pymysql.connect(
        unix_socket=server.socket, user=user, password=password, database=database
    ).close()


def through_api(
    cp: ControlPlane, server: PrivateMariaDB, tenant: str, i: int
) -> tuple[float, float]:
    """Seconds to a login, and the milliseconds the operations' steps took."""
    with cp.api() as api:
        started = time.perf_counter()
        made = api.post(f"/v1/tenants/{tenant}/databases", json={"name": f"b{i + 1}"})
        op_db = settle(api, accepted(made))
        database = made.json()["database"]
        user = api.post(f"/v1/databases/{database}/users", json={"name": f"u{i + 1}"})
        op_user = settle(api, accepted(user))
        login(server, user.json()["user"], user.json()["password"], database)
        elapsed = time.perf_counter() - started
    steps_ms = sum(s["elapsed_ms"] or 0 for op in (op_db, op_user) for s in op["steps"])
    return elapsed, steps_ms


def raw(server: PrivateMariaDB, i: int) -> float:
    database, user, password = f"rawdb_{i + 1}", f"rawu_{i + 1}", secrets.token_urlsafe(24)
    started = time.perf_counter()
    root = pymysql.connect(unix_socket=server.socket, user="root", autocommit=True)
    with root as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{database}`")
        cur.execute("CREATE USER %s@'localhost' IDENTIFIED BY %s", (user, password))
        escaped = database.replace("_", "\\_")
        cur.execute(f"GRANT ALL ON `{escaped}`.* TO %s@'localhost'", (user,))
    login(server, user, password, database)
    return time.perf_counter() - started


def create_to_usable(runs: int) -> dict[str, Any]:
    with plane_with_mariadb() as (cp, server):
        tenant = "bench"
        with cp.api() as api:
            settle(api, accepted(api.post("/v1/tenants", json={"name": tenant})))
        through_api(cp, server, tenant, -1), raw(server, -1)  # warm; not counted
        api_ms, raw_ms, steps_ms = [], [], []
        for i in range(runs):
            elapsed, steps = through_api(cp, server, tenant, i)
            api_ms.append(round(elapsed * 1000, 2))
            steps_ms.append(round(steps, 2))
            raw_ms.append(round(raw(server, i) * 1000, 2))
    a, r = statistics.median(api_ms), statistics.median(raw_ms)
    return {
        "api_ms": a,
        "raw_ms": r,
        "steps_ms": statistics.median(steps_ms),
        "overhead_ms": round(a - r, 2),
        "ratio": round(a / r, 3),
        "target": "API within 15% or 20 ms of raw",
        "met": a <= r * (1 + TARGET_RATIO) or a - r <= TARGET_SLACK_MS,
        "api_runs_ms": api_ms,
        "raw_runs_ms": raw_ms,
    }


def cache_through_api(cp: ControlPlane, tenant: str, i: int) -> tuple[float, float]:
    """Seconds to the first SET as the new user, and the milliseconds the steps took."""
    with cp.api() as api:
        started = time.perf_counter()
        body = {"name": f"c{i + 1}", "memory_mb": 8, "persistence": "none"}
        made = api.post(f"/v1/tenants/{tenant}/caches", json=body)
        op_cache = settle(api, accepted(made))
        cache = made.json()["cache"]
        user = api.post(f"/v1/caches/{cache}/users", json={"name": "app", "key_prefix": "app:"})
        op_user = settle(api, accepted(user))
        answer = user.json()
        client = redis.Redis(
            unix_socket_path=answer["connection"]["socket"],
            username=answer["user"],
            password=answer["password"],
        )
        client.set("app:first", "1")
        elapsed = time.perf_counter() - started
        client.close()
        settle(api, accepted(api.delete(f"/v1/caches/{cache}")))
    steps_ms = sum(s["elapsed_ms"] or 0 for op in (op_cache, op_user) for s in op["steps"])
    return elapsed, steps_ms


def caches_through_api(runs: int) -> dict[str, Any]:
    """Medians of cache + user, create to first SET, through a real plane's API."""
    with plane_with_mariadb() as (cp, _):
        tenant = "cbench"
        with cp.api() as api:
            settle(api, accepted(api.post("/v1/tenants", json={"name": tenant})))
        cache_through_api(cp, tenant, -1)  # warm; not counted
        runs_ms, steps_ms = [], []
        for i in range(runs):
            elapsed, steps = cache_through_api(cp, tenant, i)
            runs_ms.append(round(elapsed * 1000, 2))
            steps_ms.append(round(steps, 2))
    return {
        "api_ms": statistics.median(runs_ms),
        "steps_ms": statistics.median(steps_ms),
        "api_runs_ms": runs_ms,
    }
