"""Tenants' databases on a real control plane and a real MariaDB (issue 17 items 1-3, 5, 9):
two tenants each get a database and users through hostctl and the API; the users log in with
PyMySQL with the password shown once; and the isolation canaries: one tenant's user cannot
list, read, write or drop the other's database, through SHOW DATABASES, information_schema,
mysql.*, or the wildcard `_` of a database-level grant (tenant `q-<tag>` against `qx<tag>`,
whose names differ only where the first has `_`). The reconciler puts back a dropped account
and a grant changed by hand and never touches an unmarked database; deletes leave nothing."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pymysql
import pytest

from hostplane.cli.client import ApiClient
from hostplane.cli.isolation import Canary, tenant_names
from hostplane.kinds.database.canary import attack, login_of, made
from hostplane.settings import Settings
from tests.e2e.harness import ControlPlane
from tests.fixtures_mariadb import root_connection

TAG = uuid.uuid4().hex[:5]
A, B = f"q-{TAG}", f"qx{TAG}"  # tdb_7_q_<tag>_… (as a LIKE pattern) would cover tdb_7_qx<tag>_…
DB_A, DB_B = f"tdb_7_q_{TAG}_shop", f"tdb_7_qx{TAG}_shop"
UNMARKED = f"tdb_7_qz{TAG}_byhand"
DENIED = (1044, 1045, 1142, 1143, 1227, 1049)


@pytest.fixture(scope="module")
def cp(mariadb_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    plane = ControlPlane(
        tmp_path_factory.mktemp("databases") / "data",
        extra_env={"HOSTPLANE_SITE_DB_URL": mariadb_server.url},
    ).start()
    try:
        yield plane
    finally:
        for tenant in (A, B):  # whatever a failed test left
            plane.cli("tenant", "delete", tenant, "--cascade", "--wait")
        with root_connection(mariadb_server) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{UNMARKED}`")
        plane.stop()
        plane.clean_host()


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def login(server: Any, user: str, password: str, database: str | None = None) -> Any:
    return pymysql.connect(
        unix_socket=server.socket,
        user=user,
        password=password,
        database=database,
        autocommit=True,
        connect_timeout=5,
    )


def refused(conn: Any, sql: str) -> int:
    """The error code MariaDB answers `sql` with (the test fails if it is allowed)."""
    with conn.cursor() as cur:
        try:
            cur.execute(sql)
        except pymysql.MySQLError as exc:
            return int(exc.args[0])
    raise AssertionError(f"allowed: {sql}")


def column(conn: Any, sql: str) -> set[str]:
    with conn.cursor() as cur:
        cur.execute(sql)
        return {str(r[0]) for r in cur.fetchall()}


@pytest.fixture(scope="module")
def world(cp: ControlPlane) -> dict[str, Any]:
    ok(cp.cli("tenant", "create", A, "--wait"))
    ok(cp.cli("tenant", "create", B, "--wait"))
    out = ok(cp.cli("database", "create", "shop", "--tenant", A, "--wait"))
    assert DB_A in out
    ok(cp.cli("database", "create", "shop", "--tenant", B, "--wait"))
    made = json.loads(ok(cp.cli("database", "user", "create", DB_A, "app", "--json")))
    ro = json.loads(
        ok(cp.cli("database", "user", "create", DB_A, "ro", "--privileges", "read", "--json"))
    )
    with cp.api() as api:
        other = api.post(f"/v1/databases/{DB_B}/users", json={"name": "app"})
        assert other.status_code == 202, other.text
        theirs = other.json()
    for accepted in (made, ro, theirs):
        _wait(cp, accepted["operation"]["id"])
    return {"a": made, "ro": ro, "b": theirs}


def _wait(cp: ControlPlane, op_id: str) -> None:
    op = cp.wait_operation(op_id)
    assert op["status"] == "SUCCEEDED", op


def test_users_log_in_with_the_password_shown_once_and_views_never_show_it(
    cp: ControlPlane, world, mariadb_server
):
    a = world["a"]
    assert a["user"] == f"tdu_7_q_{TAG}_app" and a["password"]
    assert a["connection"]["socket"] == mariadb_server.socket
    with login(mariadb_server, a["user"], a["password"], DB_A) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE secrets (v VARCHAR(32))")
        cur.execute("INSERT INTO secrets VALUES ('tenant a only')")
    with login(mariadb_server, world["ro"]["user"], world["ro"]["password"], DB_A) as conn:
        assert column(conn, "SELECT v FROM secrets") == {"tenant a only"}
        assert refused(conn, "INSERT INTO secrets VALUES ('x')") in DENIED
    shown = ok(cp.cli("database", "show", DB_A, "--json"))
    detail = json.loads(shown)
    assert {u["user"] for u in detail["users"]} == {a["user"], world["ro"]["user"]}
    assert detail["connection"]["socket"] == mariadb_server.socket
    assert a["password"] not in shown and world["ro"]["password"] not in shown
    listed = json.loads(ok(cp.cli("database", "list", "--tenant", A, "--json")))
    assert [d["name"] for d in listed] == [DB_A]
    with root_connection(mariadb_server) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT SCHEMA_COMMENT FROM information_schema.SCHEMATA WHERE SCHEMA_NAME=%s", (DB_A,)
        )
        assert str(cur.fetchone()[0]).startswith("hostplane:")
        cur.execute("SELECT Db FROM mysql.db WHERE User = %s", (a["user"],))
        assert [r[0] for r in cur.fetchall()] == [DB_A.replace("_", "\\_")]  # escaped


def test_canary_one_tenants_user_cannot_reach_the_others_database(
    cp: ControlPlane, world, mariadb_server
):
    """B's user against A's database, and A's user (whose unescaped grant would be a pattern
    covering B's name) against B's: the probes `hostctl canary` runs, every one held."""
    a, b = login_of(world["a"], table="secrets"), login_of(world["b"], table="theirs")
    with a.connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS secrets (v VARCHAR(32))")
    with b.connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE theirs (v VARCHAR(32))")
    probes = [*attack(b, a), *attack(a, b)]
    assert len(probes) == 2 * 15
    assert [p for p in probes if not p.held] == []


def test_hostctl_canary_passes_and_leaves_nothing(cp: ControlPlane, mariadb_server):
    result = cp.cli("canary", "--kind", "database", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    probes = json.loads(result.stdout)
    assert len(probes) == 2 * 15 and all(p["held"] for p in probes), probes
    with cp.api() as api:
        tenants = {t["name"] for t in api.get("/v1/tenants").json()["items"]}
    assert not {t for t in tenants if t.startswith(("cn-", "cnx"))}
    with root_connection(mariadb_server) as conn:
        left = column(conn, "SHOW DATABASES") | column(conn, "SELECT User FROM mysql.user")
    assert not {name for name in left if "_cn" in name}, left


def test_the_canary_reports_a_grant_that_leaks(cp: ControlPlane, mariadb_server):
    """A grant on A's database given to B's user by hand: the probes that must see it do."""
    canary = Canary(ApiClient(Settings(api_url=cp.api_url, api_token=cp.token)), tenant_names())
    for tenant in canary.tenants:
        canary.done("POST", "/v1/tenants", {"name": tenant})
    try:
        a, b = (made(canary, tenant) for tenant in canary.tenants)
        with a.connect() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE TABLE `{a.table}` (v VARCHAR(32))")
        with root_connection(mariadb_server) as conn, conn.cursor() as cur:
            cur.execute(f"GRANT SELECT ON `{a.database}`.* TO %s@'localhost'", (b.user,))
        leaks = {p.name.split(" (")[0] for p in attack(b, a) if not p.held}
        assert leaks == {
            "SHOW DATABASES",
            "information_schema.SCHEMATA",
            "information_schema.TABLES",
            "information_schema.SCHEMA_PRIVILEGES",
            "USE",
            "SELECT",
            "login",
        }, leaks
    finally:
        for tenant in canary.tenants:
            canary.done("DELETE", f"/v1/tenants/{tenant}?cascade=true")


def test_a_tenants_token_sees_only_its_own_databases(cp: ControlPlane, world):
    token = json.loads(ok(cp.cli("token", "create", "--tenant", B, "--json")))["token"]
    with httpx.Client(base_url=cp.api_url, headers={"Authorization": f"Bearer {token}"}) as b:
        assert b.get(f"/v1/databases/{DB_A}").status_code == 404
        assert b.get(f"/v1/tenants/{A}/databases").status_code == 404
        assert b.delete(f"/v1/databases/{DB_A}").status_code == 404
        assert b.post(f"/v1/databases/{DB_A}/users", json={"name": "spy"}).status_code == 404
        assert b.post(f"/v1/tenants/{A}/databases", json={"name": "x"}).status_code == 404
        spy = {"rotate_password": True}
        assert b.put(f"/v1/databases/{DB_A}/users/app", json=spy).status_code == 404
        assert b.delete(f"/v1/databases/{DB_A}", params={"backup": "true"}).status_code == 404
        moved = b.post(f"/v1/databases/{DB_B}/reassign", json={"tenant": A})
        assert moved.status_code == 403, moved.text  # the operator's only, even its own
        assert [d["name"] for d in b.get(f"/v1/tenants/{B}/databases").json()["items"]] == [DB_B]


def test_the_reconciler_repairs_a_dropped_user_and_a_changed_grant_and_leaves_unmarked_alone(
    cp: ControlPlane, world, mariadb_server
):
    a, ro = world["a"], world["ro"]
    with root_connection(mariadb_server) as conn, conn.cursor() as cur:
        cur.execute("DROP USER %s@'localhost'", (a["user"],))
        cur.execute(
            f"GRANT INSERT ON `{DB_A.replace('_', chr(92) + '_')}`.* TO %s@'localhost'",
            (ro["user"],),
        )
        cur.execute(
            f"GRANT SELECT ON `{DB_B.replace('_', chr(92) + '_')}`.* TO %s@'localhost'",
            (ro["user"],),
        )
        cur.execute(f"CREATE DATABASE `{UNMARKED}`")
    ok(cp.cli("reconcile", "--prune"))
    with login(mariadb_server, a["user"], a["password"], DB_A) as conn:
        assert column(conn, "SELECT v FROM secrets") >= {"tenant a only"}
    with login(mariadb_server, ro["user"], ro["password"], DB_A) as conn:
        assert refused(conn, "INSERT INTO secrets VALUES ('x')") in DENIED
        assert refused(conn, f"SELECT * FROM `{DB_B}`.theirs") in DENIED
    with root_connection(mariadb_server) as conn:
        assert UNMARKED in column(conn, "SHOW DATABASES")


def test_a_rotated_password_and_changed_privileges_take_effect_on_mariadb(
    cp: ControlPlane, world, mariadb_server
):
    a = world["a"]
    rotated = json.loads(
        ok(cp.cli("database", "user", "update", DB_A, "app", "--rotate-password", "--json"))
    )
    assert rotated["password"] and rotated["password"] != a["password"]
    _wait(cp, rotated["operation"]["id"])
    with pytest.raises(pymysql.MySQLError):
        login(mariadb_server, a["user"], a["password"], DB_A)
    with login(mariadb_server, a["user"], rotated["password"], DB_A) as conn:
        assert "tenant a only" in column(conn, "SELECT v FROM secrets")
    with cp.api() as api:
        weak = api.put(f"/v1/databases/{DB_A}/users/app", json={"password": "short"})
        assert weak.status_code == 422 and "too weak" in weak.text, weak.text
        changed = api.put(f"/v1/databases/{DB_A}/users/app", json={"privileges": "read"})
        assert changed.status_code == 202 and changed.json()["password"] is None, changed.text
    _wait(cp, changed.json()["operation"]["id"])
    with login(mariadb_server, a["user"], rotated["password"], DB_A) as conn:
        assert refused(conn, "INSERT INTO secrets VALUES ('x')") in DENIED
    own = "Tenant-Chosen-Secret-42"
    out = ok(
        cp.cli(
            "database",
            "user",
            "update",
            DB_A,
            "app",
            "--password-stdin",
            "--privileges",
            "all",
            "--wait",
            stdin=own + "\n",
        )
    )
    assert own not in out
    with login(mariadb_server, a["user"], own, DB_A) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO secrets VALUES ('all again')")
    a["password"] = own  # later tests log in with it


def locked_out(server: Any, user: str, password: str) -> bool:
    try:
        login(server, user, password, DB_A).close()
    except pymysql.MySQLError as exc:
        assert exc.args[0] == 4151, exc  # refused as locked, not for its password
        return True
    return False


def test_a_suspended_tenants_users_are_locked_kept_locked_and_unlocked_again(
    cp: ControlPlane, world, mariadb_server
):
    a = world["a"]
    held = login(mariadb_server, a["user"], a["password"], DB_A)  # open before the suspension
    ok(cp.cli("tenant", "suspend", A, "--reason", "unpaid", "--wait"))
    with pytest.raises(pymysql.MySQLError):  # its session was ended
        column(held, "SELECT v FROM secrets")
    held.close()
    assert locked_out(mariadb_server, a["user"], a["password"])
    assert locked_out(mariadb_server, world["ro"]["user"], world["ro"]["password"])
    with login(mariadb_server, world["b"]["user"], world["b"]["password"], DB_B):
        pass  # the other tenant's user is not touched
    with root_connection(mariadb_server) as conn, conn.cursor() as cur:
        cur.execute("ALTER USER %s@'localhost' ACCOUNT UNLOCK", (a["user"],))
    assert not locked_out(mariadb_server, a["user"], a["password"])
    ok(cp.cli("reconcile"))
    assert locked_out(mariadb_server, a["user"], a["password"])
    ok(cp.cli("tenant", "unsuspend", A, "--wait"))
    assert not locked_out(mariadb_server, a["user"], a["password"])
    assert not locked_out(mariadb_server, world["ro"]["user"], world["ro"]["password"])


def test_canary_after_a_reassign_the_old_tenants_user_is_out_and_the_new_tenants_in(
    cp: ControlPlane, world, mariadb_server
):
    moving, moved = f"tdb_7_q_{TAG}_moving", f"tdb_7_qx{TAG}_moving"
    ok(cp.cli("database", "create", "moving", "--tenant", A, "--wait"))
    mover = json.loads(ok(cp.cli("database", "user", "create", moving, "mover", "--json")))
    _wait(cp, mover["operation"]["id"])
    with (
        login(mariadb_server, mover["user"], mover["password"], moving) as conn,
        conn.cursor() as cur,
    ):
        cur.execute("CREATE TABLE ledger (id INT PRIMARY KEY, v VARCHAR(32))")
        cur.execute("INSERT INTO ledger VALUES (1, 'kept across')")
        cur.execute("CREATE TABLE `odd``name` (v INT)")
    held = login(mariadb_server, mover["user"], mover["password"], moving)  # open across it
    with held.cursor() as cur:  # a transaction holding the table: ended, never waited for
        cur.execute("START TRANSACTION")
        cur.execute("SELECT * FROM ledger")
    with cp.api() as api:
        same = api.post(f"/v1/databases/{moving}/reassign", json={"tenant": A})
        assert same.status_code == 422 and "already" in same.text, same.text
    out = ok(cp.cli("database", "reassign", moving, "--to", B, "--wait"))
    assert moved in out
    with pytest.raises(pymysql.MySQLError):
        login(mariadb_server, mover["user"], mover["password"], moving)
    with pytest.raises(pymysql.MySQLError), held.cursor() as cur:
        cur.execute(f"SELECT * FROM `{moved}`.ledger")  # its session was ended
    held.close()
    with root_connection(mariadb_server) as conn:
        assert moving not in column(conn, "SHOW DATABASES")
        assert mover["user"] not in column(conn, "SELECT User FROM mysql.user")
    theirs = json.loads(ok(cp.cli("database", "user", "create", moved, "taker", "--json")))
    _wait(cp, theirs["operation"]["id"])
    with login(mariadb_server, theirs["user"], theirs["password"], moved) as conn:
        assert column(conn, "SELECT v FROM ledger") == {"kept across"}
        assert column(conn, "SHOW TABLES") == {"ledger", "odd`name"}
        assert refused(conn, f"SELECT * FROM `{DB_A}`.secrets") in DENIED
    with login(mariadb_server, world["a"]["user"], world["a"]["password"], DB_A) as conn:
        assert moved not in column(conn, "SHOW DATABASES")
        assert refused(conn, f"SELECT * FROM `{moved}`.ledger") in DENIED
    listed = json.loads(ok(cp.cli("database", "list", "--tenant", B, "--json")))
    assert moved in [d["name"] for d in listed]


def test_a_delete_with_backup_leaves_a_dump_of_the_tenants_that_restores(
    cp: ControlPlane, world, mariadb_server
):
    kept, restored = f"tdb_7_qx{TAG}_kept", f"restored_{TAG}"
    ok(cp.cli("database", "create", "kept", "--tenant", B, "--wait"))
    with root_connection(mariadb_server) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE `{kept}`.notes (id INT PRIMARY KEY, body TEXT)")
        cur.execute(f"INSERT INTO `{kept}`.notes VALUES (1, 'first'), (2, 'ŝecond')")
    with cp.api() as api:
        accepted = api.delete(f"/v1/databases/{kept}", params={"backup": "true"})
        assert accepted.status_code == 202, accepted.text
    _wait(cp, accepted.json()["operation"]["id"])
    dump = cp.homes_dir / B / accepted.json()["backup"]
    assert dump.parent.name == "private" and dump.name.endswith(".sql.gz")
    assert dump.stat().st_uid == dump.parent.stat().st_uid != 0  # written as the tenant
    assert oct(dump.stat().st_mode & 0o777) == "0o600"
    with root_connection(mariadb_server) as conn:
        assert kept not in column(conn, "SHOW DATABASES")
        conn.cursor().execute(f"CREATE DATABASE `{restored}`")
    try:
        subprocess.run(
            f"gunzip -c '{dump}' | mariadb --no-defaults -uroot --socket={mariadb_server.socket}"
            f" {restored}",
            shell=True,
            check=True,
        )
        with root_connection(mariadb_server) as conn:
            assert column(conn, f"SELECT body FROM `{restored}`.notes") == {"first", "ŝecond"}
    finally:
        with root_connection(mariadb_server) as conn:
            conn.cursor().execute(f"DROP DATABASE IF EXISTS `{restored}`")


def test_deletes_leave_nothing_and_are_audited(cp: ControlPlane, world, mariadb_server):
    ok(cp.cli("database", "user", "delete", DB_A, "ro", "--wait"))
    with pytest.raises(pymysql.MySQLError):
        login(mariadb_server, world["ro"]["user"], world["ro"]["password"], DB_A)
    ok(cp.cli("database", "delete", DB_A, "--wait"))
    ok(cp.cli("tenant", "delete", B, "--cascade", "--wait"))
    with root_connection(mariadb_server) as conn:
        dbs = column(conn, "SHOW DATABASES")
        users = column(conn, "SELECT User FROM mysql.user")
    assert DB_A not in dbs and DB_B not in dbs
    assert not {world[k]["user"] for k in ("a", "ro", "b")} & users
    audit = ok(cp.cli("audit", "--json"))
    assert "database.deleted" in audit and DB_A in audit
