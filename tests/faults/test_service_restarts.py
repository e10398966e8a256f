"""Real services restarted under a running control plane: PostgreSQL (state and workflow
databases) in the middle of an operation, and the Docker engine under running sites. After
each the system converges and a final reconcile finds nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import CaddyServer, ControlPlane, FaultyAdminProxy, wait_for
from tests.faults.common import no_drift
from tests.services import PostgresDatabases, PrivatePostgres


@pytest.fixture
def own_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres().start()
    yield server
    server.stop()


def test_postgresql_restarted_mid_operation(own_postgres, tmp_path: Path):
    """Broke: restarted PostgreSQL (fast stop: every session cut) while a provision waited
    inside its edge step. Verified: the operation resumes on fresh connections and finishes,
    the site serves, a later request works, and nothing drifted."""
    url = PostgresDatabases(own_postgres.url).create(f"hp_restart_{uuid.uuid4().hex[:6]}")
    caddy = CaddyServer(tmp_path / "caddy")
    proxy = FaultyAdminProxy(caddy.admin_port)
    cp = ControlPlane(
        tmp_path / "data", database_url=url, extra_env={"HOSTPLANE_CADDY_ADMIN_URL": proxy.url}
    ).start()
    try:
        proxy.mode = "stall"
        loads = proxy.loads_seen
        with cp.api() as api:
            op_id = api.post("/v1/sites", json={"name": "pg"}).json()["operation"]["id"]
        wait_for(lambda: proxy.loads_seen > loads, "the edge step to reach Caddy")
        own_postgres.restart()
        proxy.mode = "pass"
        proxy.released.set()
        op = cp.wait_operation(op_id, timeout=60)
        assert op["status"] == "SUCCEEDED", op
        assert cp.edge_get("pg.localhost").status_code == 200
        assert cp.cli("site", "create", "after", "--wait").returncode == 0
        no_drift(cp)
    finally:
        cp.stop()
        cp.clean_host()
        proxy.close()
        caddy.stop()


@pytest.fixture
def docker_cp(docker_engine, mariadb_server, tmp_path: Path) -> Iterator[ControlPlane]:
    # The private MariaDB, not whatever answers on 3306: drift there is not this test's.
    cp = ControlPlane(
        tmp_path / "data",
        extra_env={
            "HOSTPLANE_DOCKER_HOST": docker_engine.host,
            "HOSTPLANE_RUNTIME": "docker",
            "HOSTPLANE_SITE_DB_URL": mariadb_server.url,
        },
    ).start()
    yield cp
    cp.stop()
    cp.clean_host()


def test_the_docker_engine_restarted_under_running_sites(docker_cp, docker_engine):
    """Broke: restarted the Docker engine (its containers stop with it). Verified: the
    containers come back by their restart policy or the reconcile, the sites serve again,
    and a final reconcile finds nothing."""
    cp = docker_cp
    assert docker_engine.daemon is not None, "needs the private engine"
    for name, kind in (("rstat", "static"), ("rphp", "php")):
        assert cp.cli("site", "create", name, "--type", kind, "--wait").returncode == 0
    docker_engine.daemon.restart()
    result = cp.cli("reconcile", "--json", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("rstat", "rphp"):
        wait_for(lambda n=name: cp.edge_get(f"{n}.localhost").status_code == 200, f"{name}")
    no_drift(cp)
    for name in ("rstat", "rphp"):
        assert cp.cli("site", "destroy", name, "--wait").returncode == 0
