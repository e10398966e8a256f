"""Tenants' databases under faults (issue 17, "how it is checked"), against a real control
plane and a real MariaDB: the worker killed with SIGKILL at each point of a database's create,
of a user's create, of a database's delete and of its reassign. A client whose request died
with the plane asks again with the same Idempotency-Key, as clients do, and gets the same
operation. Each ends with the operation SUCCEEDED, its step done once, MariaDB as the
database says, and no drift."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pymysql
import pytest

from tests.e2e.harness import ControlPlane, wait_for
from tests.faults.common import (
    POINTS,
    disarmed,
    done,
    failpoint_plane,
    killed_request,
    log_events,
    no_drift,
    started,
    succeeded_once,
)
from tests.fixtures_mariadb import root_connection
from tests.inprocess.test_database_changes import REASSIGN_KILLS
from tests.services import terminate
from tests.services_mariadb import PrivateMariaDB


@pytest.fixture(scope="module")
def mariadb_server() -> Iterator[PrivateMariaDB]:
    """The module's own server, which a test restarts."""
    server = PrivateMariaDB().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def plane(mariadb_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    cp = failpoint_plane(tmp_path_factory, "data-faults", HOSTPLANE_SITE_DB_URL=mariadb_server.url)
    yield from started(cp)


@pytest.fixture
def cp(plane: ControlPlane) -> Iterator[ControlPlane]:
    yield from disarmed(plane)


def _tenant(cp: ControlPlane) -> str:
    name = f"d{uuid.uuid4().hex[:7]}"
    done(cp, "POST", "/v1/tenants", {"name": name})
    return name


def _databases(mariadb_server) -> set[str]:
    with root_connection(mariadb_server) as conn, conn.cursor() as cur:
        cur.execute("SHOW DATABASES")
        return {str(row[0]) for row in cur.fetchall()}


@pytest.mark.parametrize("point", POINTS)
def test_database_create_killed_at_its_step_converges(cp, mariadb_server, point):
    tenant = _tenant(cp)
    cp.arm(f"database-database.apply.{point}=kill")
    answer = killed_request(cp, "POST", f"/v1/tenants/{tenant}/databases", {"name": "shop"})
    succeeded_once(cp, answer, "apply")
    assert answer["database"] in _databases(mariadb_server)
    no_drift(cp)


@pytest.mark.parametrize("point", POINTS)
def test_user_create_killed_at_its_step_converges(cp, mariadb_server, point):
    tenant = _tenant(cp)
    database = done(cp, "POST", f"/v1/tenants/{tenant}/databases", {"name": "shop"})["database"]
    cp.arm(f"database-user.apply.{point}=kill")
    answer = killed_request(cp, "POST", f"/v1/databases/{database}/users", {"name": "app"})
    succeeded_once(cp, answer, "apply")
    if answer["password"] is not None:  # the first answer arrived: its password logs in
        pymysql.connect(
            unix_socket=mariadb_server.socket,
            user=answer["user"],
            password=answer["password"],
            database=database,
            connect_timeout=5,
        ).close()
    with root_connection(mariadb_server) as conn, conn.cursor() as cur:
        cur.execute("SELECT Db FROM mysql.db WHERE User = %s", (answer["user"],))
        assert [row[0] for row in cur.fetchall()] == [database.replace("_", "\\_")]
    no_drift(cp)


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("step", ["database-users", "database-database"])
def test_database_delete_killed_at_a_step_converges(cp, mariadb_server, step, point):
    tenant = _tenant(cp)
    database = done(cp, "POST", f"/v1/tenants/{tenant}/databases", {"name": "shop"})["database"]
    user = done(cp, "POST", f"/v1/databases/{database}/users", {"name": "app"})["user"]
    cp.arm(f"{step}.undo.{point}=kill")
    answer = killed_request(cp, "DELETE", f"/v1/databases/{database}")
    succeeded_once(cp, answer, "undo")
    assert database not in _databases(mariadb_server)
    with root_connection(mariadb_server) as conn, conn.cursor() as cur:
        cur.execute("SELECT User FROM mysql.user WHERE User = %s", (user,))
        assert cur.fetchall() == ()
    no_drift(cp)


def test_mariadb_restarted_in_the_middle_of_a_user_create_converges(cp, mariadb_server):
    """Broke: stopped MariaDB before a user's create reached it, kept it down until the step
    had failed and been retried, then started it again. Verified: the step's retries reach
    the restarted server, the operation SUCCEEDS, the password shown logs in, no drift."""
    tenant = _tenant(cp)
    database = done(cp, "POST", f"/v1/tenants/{tenant}/databases", {"name": "shop"})["database"]
    terminate(mariadb_server.proc, timeout=20)
    try:
        with cp.api() as api:
            accepted = api.post(f"/v1/databases/{database}/users", json={"name": "app"})
        assert accepted.status_code == 202, accepted.text
        answer = accepted.json()
        op_id = answer["operation"]["id"]
        wait_for(
            lambda: any(
                e.get("operation") == op_id and e.get("step") == "database-user"
                for e in log_events(cp, "step.retry")
            ),
            "the user's create to find MariaDB down and retry",
        )
    finally:
        mariadb_server.restart()
    succeeded_once(cp, answer, "apply")
    pymysql.connect(
        unix_socket=mariadb_server.socket,
        user=answer["user"],
        password=answer["password"],
        database=database,
        connect_timeout=5,
    ).close()
    no_drift(cp)


@pytest.mark.parametrize("failpoint", REASSIGN_KILLS)
def test_a_reassign_killed_at_a_step_converges(cp, mariadb_server, failpoint: str):
    """After the restart the reassign finishes, each step's work done once: the tables under
    the new tenant's name with their rows, the old database and the old tenant's account
    gone, and nothing left to repair."""
    tag = uuid.uuid4().hex[:5]
    a, b = f"ra{tag}", f"rb{tag}"
    old, new = f"tdb_7_{a}_shop", f"tdb_7_{b}_shop"
    for tenant in (a, b):
        done(cp, "POST", "/v1/tenants", {"name": tenant})
    done(cp, "POST", f"/v1/tenants/{a}/databases", {"name": "shop"})
    user = done(cp, "POST", f"/v1/databases/{old}/users", {"name": "app"})["user"]
    with root_connection(mariadb_server) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE `{old}`.orders (id INT PRIMARY KEY)")
        cur.execute(f"INSERT INTO `{old}`.orders VALUES (1), (2)")
    cp.arm(f"{failpoint}=kill")
    answer = killed_request(cp, "POST", f"/v1/databases/{old}/reassign", {"tenant": b})
    succeeded_once(cp, answer, "apply")
    with root_connection(mariadb_server) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT id FROM `{new}`.orders ORDER BY id")
        assert cur.fetchall() == ((1,), (2,))
    assert old not in _databases(mariadb_server)
    with root_connection(mariadb_server) as conn, conn.cursor() as cur:
        cur.execute("SELECT User FROM mysql.user WHERE User = %s", (user,))
        assert cur.fetchall() == ()
    no_drift(cp)
