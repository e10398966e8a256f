"""Tenants on a real control plane (Caddy, PHP-FPM, MariaDB, sshd, real users), as a new user
would try them: a plan and two tenants with a WordPress site each (and a static one for the
first); files uploaded over SFTP and served by the edge, the chroot held; one tenant's user
unable to read the other's files or reach its PHP; a tenant's token confined to its tenant;
suspension (503 'suspended', PHP stopped, SFTP refused) and its undoing; a cascade delete
that leaves nothing of the tenant (user, home, pools, database, routes)."""

from __future__ import annotations

import io
import json
import pwd
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import paramiko
import pymysql
import pytest

from tests.e2e.harness import ControlPlane, wait_for
from tests.e2e.traces import db_traces
from tests.fixtures_mariadb import root_connection

TAG = uuid.uuid4().hex[:5]
A, B = f"a{TAG}", f"b{TAG}"  # tenants
SITE_A, PHP_A, SITE_B = f"web-{TAG}", f"wp-{TAG}", f"other-{TAG}"  # PHP_A, SITE_B: WordPress
WORDPRESS = ("--type", "wordpress", "--admin-email", "me@example.org")
WP_A = f"wp_wp_{TAG}"  # PHP_A's database: one of A's databases


def as_user(user: str, *argv: str) -> subprocess.CompletedProcess[str]:
    entry = pwd.getpwnam(user)
    return subprocess.run(
        ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups", *argv],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture(scope="module")
def cp(mariadb_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    plane = ControlPlane(
        tmp_path_factory.mktemp("tenants") / "data",
        extra_env={"HOSTPLANE_SITE_DB_URL": mariadb_server.url},
    ).start()
    try:
        yield plane
    finally:
        plane.stop()
        plane.clean_host()


def visit(cp: ControlPlane, site: str, path: str = "/") -> httpx.Response:
    """As a browser asks (WordPress redirects a Host without the edge's port to its home)."""
    return cp.edge_get(f"{site}.localhost:{cp.edge_port}", path)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def world(cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    ok(
        cp.cli(
            "plan",
            "create",
            "small",
            "--sites",
            "2",
            "--databases",
            "1",
            "--caches",
            "0",
            "--disk-mb",
            "50",
            "--php-workers",
            "2",
            "--zones",
            "1",
            "--cache-memory-mb",
            "64",
        )
    )
    ok(cp.cli("tenant", "create", A, "--plan", "small", "--wait"))
    ok(cp.cli("tenant", "create", B, "--wait"))
    ok(cp.cli("site", "create", SITE_A, "--tenant", A, "--wait"))
    ok(cp.cli("site", "create", PHP_A, *WORDPRESS, "--tenant", A, "--wait"))
    ok(cp.cli("site", "create", SITE_B, *WORDPRESS, "--tenant", B, "--wait"))
    keydir = tmp_path_factory.mktemp("keys")
    key = paramiko.Ed25519Key.from_private_key(io.StringIO(_new_key(keydir)))
    pub = keydir / "id.pub"
    pub.write_text(f"{key.get_name()} {key.get_base64()} tester\n")
    ok(cp.cli("tenant", "key", "add", A, str(pub)))
    token = ok(cp.cli("token", "create", "--tenant", A, "--name", "ci", "--json"))
    return {"key": key, "token": json.loads(token)["token"]}


def _new_key(directory: Path) -> str:
    path = directory / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path.read_text()


def sftp(cp: ControlPlane, key: paramiko.PKey, user: str) -> paramiko.SFTPClient:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(
        "127.0.0.1",
        cp.sftp_port,
        username=user,
        pkey=key,
        timeout=10,
        allow_agent=False,
        look_for_keys=False,
    )
    return client.open_sftp()


def test_a_file_uploaded_over_sftp_is_served_and_the_chroot_holds(cp: ControlPlane, world):
    client = sftp(cp, world["key"], f"hp-{A}")
    assert sorted(client.listdir("/")) == ["logs", "private", "tmp", "web"]
    client.putfo(io.BytesIO(b"uploaded over sftp\n"), f"/web/{SITE_A}/public/hello.txt")
    answer = cp.edge_get(f"{SITE_A}.localhost", "/hello.txt")
    assert (answer.status_code, answer.text) == (200, "uploaded over sftp\n")
    for outside in ("/../../etc/passwd", "/etc/passwd", f"/web/../../../{cp.data_dir}/api-token"):
        with pytest.raises(IOError):
            client.stat(outside)
    client.symlink("/../../../etc", f"/web/{SITE_A}/public/escape")
    with pytest.raises(IOError):
        client.listdir(f"/web/{SITE_A}/public/escape/ssh")
    with pytest.raises(IOError):  # the chroot itself is root's
        client.putfo(io.BytesIO(b"x"), "/rootfile")
    client.close()


def test_a_tenant_cannot_read_list_or_write_the_others_files_nor_reach_its_php(cp, world):
    other = cp.homes_dir / B
    assert as_user(f"hp-{A}", "ls", str(other)).returncode != 0
    assert as_user(f"hp-{A}", "ls", str(other / "private")).returncode != 0
    assert as_user(f"hp-{A}", "touch", str(other / "web" / SITE_B / "public" / "x")).returncode != 0
    sock = cp.run_dir / "php-fpm" / f"{SITE_B}.sock"
    probe = "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])"
    refused = as_user(f"hp-{A}", "python3", "-c", probe, str(sock))
    assert refused.returncode != 0 and "Permission denied" in refused.stderr
    master = int((cp.run_dir / "php-fpm" / f"{SITE_B}.pid").read_text())
    assert visit(cp, SITE_B).status_code == 200
    workers = subprocess.run(
        ["ps", "-o", "user=", "--ppid", str(master)], capture_output=True, text=True
    )
    assert set(workers.stdout.split()) <= {f"hp-{B}"}


def test_a_tenants_token_sees_and_changes_only_its_own(cp: ControlPlane, world):
    with httpx.Client(
        base_url=cp.api_url, headers={"Authorization": f"Bearer {world['token']}"}
    ) as api:
        assert [s["name"] for s in api.get("/v1/sites").json()["items"]] == sorted([SITE_A, PHP_A])
        assert [t["name"] for t in api.get("/v1/tenants").json()["items"]] == [A]
        for method, path in (
            ("GET", f"/v1/sites/{SITE_B}"),
            ("DELETE", f"/v1/sites/{SITE_B}"),
            ("POST", f"/v1/sites/{SITE_B}/retry"),
            ("GET", f"/v1/sites/{SITE_B}/domains"),
            ("GET", f"/v1/tenants/{B}"),
            ("GET", f"/v1/tenants/{B}/ssh-keys"),
            ("GET", f"/v1/sites?tenant={B}"),
        ):
            assert api.request(method, path).status_code == 404, (method, path)
        for method, path, body in (
            ("POST", "/v1/tenants", {"name": "zz"}),
            ("POST", f"/v1/tenants/{A}/suspend", {"reason": "x"}),
            ("DELETE", f"/v1/tenants/{A}", None),
            (
                "POST",
                "/v1/plans",
                {
                    "name": "big",
                    "sites": 9,
                    "databases": 9,
                    "caches": 9,
                    "disk_mb": 9,
                    "php_workers": 9,
                    "zones": 9,
                    "cache_memory_mb": 9,
                },
            ),
            ("POST", "/v1/reconcile", {"prune": True}),
            ("GET", "/v1/drift", None),
            ("POST", "/v1/tokens", {"tenant": A}),
            ("POST", "/v1/edge/regenerate", None),
        ):
            assert api.request(method, path, json=body).status_code == 403, (method, path)
        audit = api.get("/v1/audit").json()["items"]
        assert audit and {a["target"] for a in audit} <= {A, SITE_A, PHP_A}
        created = api.post("/v1/sites", json={"name": f"more-{TAG}", "tenant": B})
        assert created.status_code == 404


def test_a_name_below_another_tenants_registrable_domain_is_refused(cp: ControlPlane, world):
    held, wanted = f"www.ex{TAG}.test", f"shop.ex{TAG}.test"
    with (
        cp.api() as operator,
        httpx.Client(
            base_url=cp.api_url, headers={"Authorization": f"Bearer {world['token']}"}
        ) as tenant_a,
    ):
        assert (
            operator.post(f"/v1/sites/{SITE_B}/domains", json={"domain": held}).status_code == 202
        )
        refused = tenant_a.post(f"/v1/sites/{SITE_A}/domains", json={"domain": wanted})
        assert refused.status_code == 409, refused.text
        message = refused.json()["message"]
        assert "belongs to another tenant" in message and B not in message and SITE_B not in message
        told = operator.post(f"/v1/sites/{SITE_A}/domains", json={"domain": wanted})
        assert told.status_code == 409 and B in told.json()["message"]  # the operator is told who
        _remove(cp, operator, SITE_B, held)
        added = tenant_a.post(f"/v1/sites/{SITE_A}/domains", json={"domain": wanted})
        assert added.status_code == 202, added.text
        _remove(cp, operator, SITE_A, wanted)


def _remove(cp: ControlPlane, api: Any, site: str, domain: str) -> None:
    """Remove a domain that waits for DNS: refused (409) while its DNS check runs, accepted
    between checks."""
    answers = []

    def accepted() -> bool:
        answers.append(api.delete(f"/v1/sites/{site}/domains/{domain}"))
        return answers[-1].status_code == 202

    wait_for(accepted, f"the removal of {domain} to be accepted")
    assert cp.wait_operation(answers[-1].json()["operation"]["id"])["status"] == "SUCCEEDED"


def test_suspension_serves_suspended_stops_php_refuses_sftp_and_comes_back(cp, world):
    ok(cp.cli("tenant", "suspend", A, "--reason", "unpaid invoice", "--wait"))
    for site in (SITE_A, PHP_A):
        answer = visit(cp, site)
        assert answer.status_code == 503 and "suspended" in answer.text.lower()
    assert visit(cp, SITE_B).status_code == 200
    assert not (cp.run_dir / "php-fpm" / f"{PHP_A}.pid").exists()
    with pytest.raises(paramiko.SSHException):
        sftp(cp, world["key"], f"hp-{A}")
    ok(cp.cli("tenant", "unsuspend", A, "--wait"))
    assert cp.edge_get(f"{SITE_A}.localhost", "/hello.txt").text == "uploaded over sftp\n"
    assert visit(cp, PHP_A).status_code == 200
    sftp(cp, world["key"], f"hp-{A}").close()
    with cp.api() as api:
        actions = [a["action"] for a in api.get("/v1/audit", params={"target": A}).json()["items"]]
    assert {"tenant.suspend", "tenant.suspended", "tenant.unsuspend", "tenant.unsuspended"} <= set(
        actions
    )


def _file(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns


def test_a_new_tenant_touches_no_other_tenants_sftp_file_and_a_hand_edit_is_put_back(cp, world):
    """Issue 14: a tenant's SFTP access is its keys file alone. Another tenant's create writes
    its own and nothing else (no config change, no sshd reload); a keys file edited by hand
    is reported by drift and put back by reconcile; a deleted tenant's file goes."""
    keys = cp.sftp_dir / "keys"
    others = {p.name: _file(p) for p in keys.iterdir()}
    config, log = _file(cp.sftp_dir / "sshd_config"), cp.sftp_dir / "sshd.log"
    hups = log.read_text().count("Received SIGHUP")
    name = f"n{TAG}"
    ok(cp.cli("tenant", "create", name, "--wait"))
    assert (keys / f"hp-{name}").exists()
    assert {p.name: _file(p) for p in keys.iterdir() if p.name != f"hp-{name}"} == others
    assert _file(cp.sftp_dir / "sshd_config") == config
    assert log.read_text().count("Received SIGHUP") == hups

    mine = keys / f"hp-{A}"
    good = mine.read_text()
    mine.write_text(good + "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHandAddedHandAddedHand intruder\n")
    drift = json.loads(ok(cp.cli("drift", "--json")))
    found = [f for f in drift if f["resource"] == "sftp-config"]
    assert found and f"keys/hp-{A}" in found[0]["detail"], drift
    ok(cp.cli("reconcile"))
    assert mine.read_text() == good
    assert not [f for f in json.loads(ok(cp.cli("drift", "--json"))) if "sftp" in f["resource"]]
    sftp(cp, world["key"], f"hp-{A}").close()

    ok(cp.cli("tenant", "delete", name, "--wait"))
    assert not (keys / f"hp-{name}").exists()
    assert {p.name: _file(p) for p in keys.iterdir()} == {**others, f"hp-{A}": _file(mine)}


def test_a_tenants_user_and_home_removed_by_hand_are_reported_and_repaired(cp: ControlPlane):
    """The reconciler knows tenants: what a hand removed is found missing, then made again."""
    name = f"c{TAG}"
    ok(cp.cli("tenant", "create", name, "--wait"))
    subprocess.run(["userdel", f"hp-{name}"], check=True)
    subprocess.run(["rm", "-rf", str(cp.homes_dir / name)], check=True)
    found = {(f["kind"], f["resource"]) for f in json.loads(ok(cp.cli("drift", "--json")))}
    assert {("missing", f"system-user:hp-{name}"), ("missing", f"home:{name}")} <= found
    ok(cp.cli("reconcile"))
    assert pwd.getpwnam(f"hp-{name}").pw_dir == str(cp.homes_dir / name)
    assert (cp.homes_dir / name / "web").is_dir()
    left = {f["resource"] for f in json.loads(ok(cp.cli("drift", "--json")))}
    assert not {r for r in left if name in r}, left
    ok(cp.cli("tenant", "delete", name, "--wait"))


def test_a_wordpress_sites_database_is_one_of_its_tenants_listed_and_counted(
    cp: ControlPlane, world, mariadb_server
):
    """Issue 17 item 4: A's plan allows one database, which its WordPress site's is."""
    listed = json.loads(ok(cp.cli("database", "list", "--tenant", A, "--json")))
    assert [(d["name"], d["site"], d["status"]) for d in listed] == [(WP_A, PHP_A, "ACTIVE")]
    refused = cp.cli("database", "create", "extra", "--tenant", A)
    assert refused.returncode != 0
    assert "limit of databases: 1 of 1 (plan 'small')" in refused.stdout + refused.stderr
    with cp.api() as api:
        shown = api.get(f"/v1/tenants/{A}").json()
        assert shown["usage"]["databases"] == {"limit": 1, "used": 1, "over": False}
        assert shown["owns"]["databases"] == [WP_A]
        deleted = api.delete(f"/v1/databases/{WP_A}")
        assert deleted.status_code == 409, deleted.text
        assert f"belongs to site '{PHP_A}'" in deleted.json()["message"]
        made = api.post(f"/v1/databases/{WP_A}/users", json={"name": "app", "privileges": "read"})
        assert made.status_code == 202, made.text
        assert cp.wait_operation(made.json()["operation"]["id"])["status"] == "SUCCEEDED"
    # the tenant's own account reads its WordPress's tables, and writes nothing
    conn = pymysql.connect(
        unix_socket=mariadb_server.socket,
        user=made.json()["user"],
        password=made.json()["password"],
        database=WP_A,
    )
    with conn, conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        assert "wp_options" in {r[0] for r in cur.fetchall()}
        with pytest.raises(pymysql.MySQLError):
            cur.execute("DELETE FROM wp_options")


def test_a_cascade_delete_leaves_nothing_of_the_tenant(cp: ControlPlane, world, mariadb_server):
    refused = cp.cli("tenant", "delete", A, "--wait")
    said = refused.stderr + refused.stdout
    assert refused.returncode != 0 and f"still owns databases: {WP_A}; sites:" in said
    ok(cp.cli("tenant", "delete", A, "--cascade", "--wait"))
    with pytest.raises(KeyError):
        pwd.getpwnam(f"hp-{A}")
    assert not (cp.homes_dir / A).exists()
    assert not (cp.run_dir / "php-fpm" / f"{PHP_A}.sock").exists()
    assert db_traces(mariadb_server, PHP_A) == ([], [])  # its WordPress database and user
    with root_connection(mariadb_server) as conn, conn.cursor() as cur:
        cur.execute("SELECT User FROM mysql.user WHERE User LIKE %s", (f"tdu\\_%{A}%",))
        assert cur.fetchall() == ()  # the account it added to that database
    with cp.api() as api:
        assert api.get(f"/v1/databases/{WP_A}").status_code == 404
    assert db_traces(mariadb_server, SITE_B)[0]  # the other tenant's stays
    for site in (SITE_A, PHP_A):
        assert visit(cp, site).status_code == 404
    assert visit(cp, SITE_B).status_code == 200
    with pytest.raises((paramiko.SSHException, socket.error)):
        sftp(cp, world["key"], f"hp-{A}")
