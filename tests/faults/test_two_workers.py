"""Two `hostctl worker` processes and an API-only process on one PostgreSQL: the work is
shared with no workflow run twice and no site touched by two operations at once; a worker
killed with SIGKILL mid-workflow has its workflow taken over by the other; a second worker
with the same identity is refused."""

from __future__ import annotations

import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.e2e.harness import HOSTCTL, CaddyServer, ControlPlane, FaultyAdminProxy, wait_for


@pytest.fixture
def cluster(
    postgres_server, tmp_path: Path
) -> Iterator[tuple[ControlPlane, FaultyAdminProxy, str]]:
    name = f"hp_workers_{uuid.uuid4().hex[:8]}"
    url = postgres_server.create(name)
    caddy = CaddyServer(tmp_path / "caddy")
    proxy = FaultyAdminProxy(caddy.admin_port)
    cp = ControlPlane(
        tmp_path / "data",
        database_url=url,
        command="api",
        extra_env={
            "HOSTPLANE_CADDY_ADMIN_URL": proxy.url,
            "HOSTPLANE_WORKER_HEARTBEAT_INTERVAL": "0.5",
            "HOSTPLANE_WORKER_DEAD_AFTER": "3",
            "HOSTPLANE_WORKER_CONCURRENCY": "1",
        },
    ).start()
    try:
        yield cp, proxy, url
    finally:
        cp.stop()
        proxy.close()
        caddy.stop()
        postgres_server.drop(name)
        postgres_server.drop(f"{name}_workflows")


def _executor(url: str, workflow_id: str) -> str:
    workflows = url.replace("postgresql+psycopg://", "postgresql://")
    base, _, db = workflows.rpartition("/")
    with psycopg.connect(f"{base}/{db}_workflows") as conn:
        row = conn.execute(
            "SELECT executor_id FROM dbos.workflow_status WHERE workflow_uuid = %s",
            (workflow_id,),
        ).fetchone()
    return str(row[0]) if row else ""


def _workers(url: str) -> dict[str, str | None]:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        rows = conn.execute("SELECT executor_id, recovered_by FROM workers").fetchall()
    return {r[0]: r[1] for r in rows}


def test_two_workers_share_the_work_and_one_takes_over_when_the_other_dies(cluster):
    cp, proxy, url = cluster
    workers = {ex: cp.start_worker(HOSTPLANE_EXECUTOR_ID=ex) for ex in ("worker-a", "worker-b")}
    try:
        wait_for(lambda: set(_workers(url)) == set(workers), "both workers to register")

        same = subprocess.run(
            [HOSTCTL, "worker"],
            env={**cp.env, "HOSTPLANE_EXECUTOR_ID": "worker-a"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert same.returncode == 1 and "in use by a live worker" in same.stderr

        # Edge loads held: each worker (one operation at a time) stays on the one it took, so
        # the others can only go to the other worker. Unheld, one fast worker may take all
        # six in turn while the other's polls happen to find none: CI saw that once.
        proxy.mode = "stall"
        names = [f"share-{i}-{uuid.uuid4().hex[:4]}" for i in range(6)]
        with cp.api() as api:
            ops = [api.post("/v1/sites", json={"name": n}).json()["operation"]["id"] for n in names]
        wait_for(
            lambda: {_executor(url, op_id) for op_id in ops} >= set(workers),
            "each worker to take an operation",
        )
        proxy.mode = "pass"
        proxy.released.set()
        for op_id in ops:
            op = cp.wait_operation(op_id, timeout=90)
            assert op["status"] == "SUCCEEDED", op
            assert all(s["attempt"] == 1 for s in op["steps"]), op["steps"]  # ran once
        assert {_executor(url, op_id) for op_id in ops} == set(workers)
        for n in names:
            assert cp.edge_get(f"{n}.localhost").status_code == 200

        proxy.released.clear()
        proxy.mode = "stall"
        loads = proxy.loads_seen
        with cp.api() as api:
            op_id = api.post("/v1/sites", json={"name": "taken"}).json()["operation"]["id"]
        wait_for(lambda: proxy.loads_seen > loads, "the edge step to reach Caddy")
        victim = _executor(url, op_id)
        survivor = next(ex for ex in workers if ex != victim)
        workers[victim].send_signal(signal.SIGKILL)
        workers[victim].wait()
        proxy.mode = "pass"
        proxy.released.set()

        op = cp.wait_operation(op_id, timeout=60)
        assert op["status"] == "SUCCEEDED", op
        assert _executor(url, op_id) == survivor
        assert _workers(url)[victim] == survivor
        assert cp.edge_get("taken.localhost").status_code == 200
        files = [s for s in op["steps"] if s["name"] == "files"]
        assert [(s["phase"], s["status"]) for s in files] == [("apply", "succeeded")]
    finally:
        for proc in workers.values():
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
        cp.clean_host()
