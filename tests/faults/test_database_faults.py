"""A database's reassign with the worker killed (SIGKILL) at its steps, against a real control
plane and a real MariaDB (issue 17, "how it is checked"): after the restart the operation
finishes, each step's work done once, the tables under the new tenant's name with their rows,
the old database and the old tenant's account gone, and nothing left to repair."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.e2e.harness import ControlPlane
from tests.faults.test_failpoints import _done_once, _no_drift, _request_killed
from tests.fixtures_mariadb import root_connection
from tests.inprocess.test_database_changes import REASSIGN_KILLS


@pytest.mark.parametrize("failpoint", REASSIGN_KILLS)
def test_a_reassign_killed_at_a_step_converges(
    tmp_path: Path, stop: list[ControlPlane], mariadb_server, failpoint: str
):
    tag = uuid.uuid4().hex[:5]
    a, b = f"ra{tag}", f"rb{tag}"
    old, new = f"tdb_7_{a}_shop", f"tdb_7_{b}_shop"
    cp = ControlPlane(
        tmp_path / "data",
        extra_env={
            "HOSTPLANE_FAILPOINTS": f"{failpoint}=kill",
            "HOSTPLANE_SITE_DB_URL": mariadb_server.url,
        },
    ).start()
    stop.append(cp)
    for tenant in (a, b):
        assert cp.cli("tenant", "create", tenant, "--wait").returncode == 0
    assert cp.cli("database", "create", "shop", "--tenant", a, "--wait").returncode == 0
    made = cp.cli("database", "user", "create", old, "app", "--wait", "--json")
    assert made.returncode == 0, made.stderr
    user = json.loads(made.stdout)["user"]
    with root_connection(mariadb_server) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE `{old}`.orders (id INT PRIMARY KEY)")
        cur.execute(f"INSERT INTO `{old}`.orders VALUES (1), (2)")
    try:
        op_id = _request_killed(
            cp, "POST", f"/v1/databases/{old}/reassign", f"/v1/databases/{old}", json={"tenant": b}
        )
        op = cp.wait_operation(op_id)
        assert op["status"] == "SUCCEEDED", op
        _done_once(op, "apply")
        with root_connection(mariadb_server) as conn, conn.cursor() as cur:
            cur.execute(f"SELECT id FROM `{new}`.orders ORDER BY id")
            assert cur.fetchall() == ((1,), (2,))
            cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
            assert old not in {r[0] for r in cur.fetchall()}
            cur.execute("SELECT User FROM mysql.user WHERE User = %s", (user,))
            assert cur.fetchall() == ()
        _no_drift(cp)
    finally:
        for tenant in (a, b):
            cp.cli("tenant", "delete", tenant, "--cascade", "--wait")
