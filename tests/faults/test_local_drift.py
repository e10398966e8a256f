"""Faults injected by hand into a real control plane's local sites (real Caddy, PHP-FPM,
MariaDB of its own), then seen by `hostctl drift` and repaired by `hostctl reconcile`:
each scenario names what it broke and what it verified; every one ends with a reconcile
that finds nothing at all, orphans included."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

from hostplane import naming
from hostplane.providers.mariadb.provider import MariaDBProvider
from tests.e2e.harness import ControlPlane, wait_for
from tests.services_mariadb import PrivateMariaDB


@pytest.fixture(scope="module")
def own_mariadb() -> Iterator[PrivateMariaDB]:
    """A server of this module's own: the test breaks things on it by hand."""
    server = PrivateMariaDB().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cp(own_mariadb, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    root = tmp_path_factory.mktemp("faults")
    plane = ControlPlane(
        root / "data",
        extra_env={
            "HOSTPLANE_SITE_DB_URL": own_mariadb.url,
            "HOSTPLANE_TUNNEL_ID": "6ff42ae2-765d-4adf-8112-31c55c1551ef",
            "HOSTPLANE_TUNNEL_CONFIG": str(root / "cloudflared" / "config.yml"),
            "HOSTPLANE_TUNNEL_RESTART_COMMAND": "true",
        },
    ).start()
    for name, kind in (("stat", "static"), ("php1", "php"), ("wp1", "wordpress")):
        created = plane.cli("site", "create", name, "--type", kind, "--wait")
        assert created.returncode == 0, created.stdout + created.stderr
    yield plane
    plane.stop()
    plane.clean_host()


def _drift(cp: ControlPlane) -> list[dict[str, Any]]:
    result = cp.cli("drift", "--json")
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


def _reconcile(cp: ControlPlane, *args: str) -> list[dict[str, Any]]:
    result = cp.cli("reconcile", "--json", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return list(json.loads(result.stdout))


def _serves(cp: ControlPlane) -> None:
    assert cp.edge_get("stat.localhost").status_code == 200
    assert cp.edge_get("php1.localhost").status_code == 200
    wp = cp.edge_get(f"wp1.localhost:{cp.edge_port}")
    assert wp.status_code in (200, 302), wp.text[:300]


def _converged(cp: ControlPlane) -> None:
    """ACTIVE sites serve, and a final reconcile finds nothing: no drift, no orphan."""
    _serves(cp)
    assert _drift(cp) == []
    assert _reconcile(cp) == []


def _mariadb(server: PrivateMariaDB) -> pymysql.Connection:
    return pymysql.connect(unix_socket=server.socket, user="root", autocommit=True)


def test_nothing_broken_means_no_findings(cp):
    """Broke nothing; verified that drift and reconcile find nothing."""
    _converged(cp)
    text = cp.cli("drift")
    assert "No drift" in text.stdout


def test_edge_config_edited_by_hand_is_regenerated(cp):
    """Broke: the edge's routes of the sites removed by hand (Caddy's routes with the Caddy
    front; the host map's lines with the HAProxy front, its Caddy behind naming no site).
    Verified: drift names the missing routes; reconcile regenerates the edge; the sites serve
    again."""
    if cp.front == "haproxy":
        hosts = cp.host_map()
        assert hosts.call(f"clear map {hosts.map_path}").strip() == ""
    else:
        config = cp.caddy_config()
        config["apps"]["http"]["servers"]["hostplane"]["routes"] = []
        with cp.caddy_admin() as admin:
            admin.post("/load", json=config).raise_for_status()
    assert "x-hostplane-route" not in cp.edge_get("stat.localhost").headers
    found = {(f["kind"], f["resource"], f["action"]) for f in _drift(cp)}
    assert ("missing", "edge-route:site-stat", "regenerate-edge") in found
    done = _reconcile(cp)
    assert {f["result"] for f in done} == {"updated"}
    _converged(cp)


def test_a_php_master_killed_by_hand_is_restarted(cp):
    """Broke: SIGKILL to php1's PHP-FPM master (and its workers). Verified: drift says the
    pool is not running; reconcile restarts it through the site's own step; php1 serves."""
    pid = int((cp.run_dir / "php-fpm" / "php1.pid").read_text().strip())
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), "the master to die")
    found = _drift(cp)
    assert [(f["kind"], f["resource"], f["action"]) for f in found] == [
        ("drifted", "php-pool:php1", "repair")
    ]
    done = _reconcile(cp)
    assert done[0]["result"] == "repaired"
    with cp.api() as api:
        ops = api.get("/v1/sites/php1").json()
    assert ops["status"] == "ACTIVE"
    _converged(cp)


def test_config_files_deleted_by_hand_are_regenerated(cp):
    """Broke: deleted php1's PHP-FPM pool config and the cloudflared ingress file. Verified:
    drift reports the pool missing and the ingress file drifted; reconcile writes both again
    (the pool through its step, the ingress file rendered whole from the database)."""
    ingress = Path(cp.extra_env["HOSTPLANE_TUNNEL_CONFIG"])
    assert ingress.exists()
    pool = cp.data_dir / "php-fpm" / "php1.conf"
    pool.unlink()
    ingress.unlink()
    found = {(f["kind"], f["resource"], f["action"]) for f in _drift(cp)}
    assert found == {
        ("missing", "php-pool:php1", "repair"),
        ("drifted", "tunnel-config", "regenerate-tunnel"),
    }
    _reconcile(cp)
    assert pool.exists() and ingress.exists()
    assert "http_status:404" in ingress.read_text()
    _converged(cp)


def test_conflicting_concurrent_requests_on_one_site_have_one_winner(cp):
    """Broke nothing: sent five destroys of one site at once, then creates of one name at
    once. Verified: exactly one of each is accepted, the others get 409 saying why."""
    from concurrent.futures import ThreadPoolExecutor

    assert cp.cli("site", "create", "race", "--wait").returncode == 0
    with cp.api() as api, ThreadPoolExecutor(5) as pool:
        destroys = list(pool.map(lambda _: api.delete("/v1/sites/race"), range(5)))
    codes = sorted(r.status_code for r in destroys)
    assert codes == [202, 409, 409, 409, 409], [r.text for r in destroys]
    assert all(r.json()["message"] for r in destroys if r.status_code == 409)
    op_id = next(r for r in destroys if r.status_code == 202).json()["operation"]["id"]
    assert cp.wait_operation(op_id)["status"] == "SUCCEEDED"
    with cp.api() as api, ThreadPoolExecutor(5) as pool:
        creates = list(pool.map(lambda _: api.post("/v1/sites", json={"name": "race"}), range(5)))
    assert sorted(r.status_code for r in creates) == [202, 409, 409, 409, 409]
    op_id = next(r for r in creates if r.status_code == 202).json()["operation"]["id"]
    assert cp.wait_operation(op_id)["status"] == "SUCCEEDED"
    assert cp.cli("site", "destroy", "race", "--wait").returncode == 0
    _converged(cp)


def test_a_site_database_dropped_by_hand_is_recreated_empty(cp, own_mariadb):
    """Broke: DROP DATABASE of wp1's database. Verified: drift reports it missing; reconcile
    recreates it (empty: WordPress offers its installer again) and wp1 answers."""
    with _mariadb(own_mariadb) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE `{naming.site_database('wp1')}`")
    assert [(f["kind"], f["resource"]) for f in _drift(cp)] == [
        ("missing", f"database:{naming.site_database('wp1')}")
    ]
    done = _reconcile(cp)
    assert done[0]["result"] == "repaired"
    wp = cp.edge_get(f"wp1.localhost:{cp.edge_port}")
    assert wp.status_code == 302 and "install.php" in wp.headers["location"]
    _converged(cp)


def test_a_webroot_deleted_by_hand_is_recreated(cp):
    """Broke: rm -r of the static site's directory. Verified: drift reports it missing;
    reconcile re-runs the files step; the site serves its page again."""
    shutil.rmtree(cp.site_dir("stat"))
    assert cp.edge_get("stat.localhost").status_code == 404
    assert [(f["kind"], f["resource"]) for f in _drift(cp)] == [("missing", "webroot:stat")]
    _reconcile(cp)
    _converged(cp)


def _plane_id(cp: ControlPlane) -> str:
    with sqlite3.connect(cp.data_dir / "state.sqlite3") as conn:
        return str(conn.execute("SELECT plane_id FROM plane").fetchone()[0])


def test_orphans_are_reported_then_pruned_with_audit_and_unmarked_things_untouched(cp, own_mariadb):
    """Broke: left a webroot, and a database and a database user this plane made (its marks:
    the database's comment, the ledger's claim), of a site that does not exist; plus a database
    without Hostplane's prefix, and a `wp_*` database and user made by hand (no mark). Verified:
    drift lists this plane's as orphaned; a plain reconcile removes nothing; --prune removes
    them, each audited with its snapshot; the unmarked ones stay, untouched."""
    ghost = f"ghost{uuid.uuid4().hex[:4]}"
    orphan = cp.site_dir(ghost, tenant="stat")  # in a tenant's home, of no site of it
    (orphan / "public").mkdir(parents=True)
    mine = MariaDBProvider(own_mariadb.url, owner=_plane_id(cp))
    assert mine.ensure_database(f"wp_{ghost}", f"wp_{ghost}", "x" * 20).changed
    hand = f"wp_{ghost}hand"
    with _mariadb(own_mariadb) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{hand}`")
        cur.execute(f"CREATE USER '{hand}'@'localhost' IDENTIFIED BY 'by-hand'")
        cur.execute("CREATE DATABASE IF NOT EXISTS `operators_own`")
    expected = {f"webroot:{ghost}", f"database:wp_{ghost}", f"database-user:wp_{ghost}"}
    found = _drift(cp)
    assert {f["resource"] for f in found} == expected
    assert {(f["kind"], f["action"]) for f in found} == {("orphaned", "prune")}

    kept = _reconcile(cp)
    assert {f["resource"] for f in kept} == expected and all(f["result"] is None for f in kept)
    assert orphan.exists()

    pruned = _reconcile(cp, "--prune")
    assert {f["result"] for f in pruned} == {"deleted"}
    assert not orphan.exists()
    with cp.api() as api:
        audit = api.get("/v1/audit", params={"limit": 50}).json()["items"]
    prunes = {a["target"]: a for a in audit if a["action"] == "reconcile.prune"}
    assert set(prunes) >= expected
    assert prunes[f"database:wp_{ghost}"]["snapshot"]["kind"] == "orphaned"
    with _mariadb(own_mariadb) as conn, conn.cursor() as cur:
        cur.execute("SHOW DATABASES LIKE 'operators_own'")
        assert cur.fetchall() == (("operators_own",),)
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (hand,)
        )
        assert cur.fetchone() == (1,)
    pymysql.connect(unix_socket=own_mariadb.socket, user=hand, password="by-hand").close()
    _converged(cp)
    with _mariadb(own_mariadb) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE `{hand}`")
        cur.execute(f"DROP USER '{hand}'@'localhost'")


def test_data_kept_on_purpose_is_not_an_orphan(cp):
    """Broke nothing: destroyed a WordPress site with --keep-data. Verified: its database and
    files are not orphans, so even --prune leaves them."""
    assert cp.cli("site", "create", "keep1", "--type", "wordpress", "--wait").returncode == 0
    assert cp.cli("site", "destroy", "keep1", "--keep-data", "--wait").returncode == 0
    assert _drift(cp) == []
    assert _reconcile(cp, "--prune") == []
    assert (cp.site_dir("keep1") / "public" / "wp-config.php").exists()


def test_the_scheduled_reconcile_repairs_without_being_asked(own_mariadb, tmp_path):
    """Broke: killed a PHP master on a control plane reconciling every 2 s. Verified: the
    scheduled run restarts it with nobody asking, and its run is stored with its trigger."""
    plane = ControlPlane(
        tmp_path / "data",
        extra_env={
            "HOSTPLANE_SITE_DB_URL": own_mariadb.url,
            "HOSTPLANE_RECONCILE_INTERVAL": "2",
        },
    ).start()
    try:
        assert plane.cli("site", "create", "sched", "--type", "php", "--wait").returncode == 0
        pid_file = plane.run_dir / "php-fpm" / "sched.pid"
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGKILL)
        wait_for(
            lambda: pid_file.exists() and pid_file.read_text().strip() != str(pid),
            "the scheduled reconcile to restart the pool",
            timeout=30,
        )
        wait_for(lambda: plane.edge_get("sched.localhost").status_code == 200, "sched to serve")
        with plane.api() as api:
            run = api.get("/v1/reconcile/runs/latest").json()
        assert run["trigger"] == "schedule"
    finally:
        plane.stop()
        plane.clean_host()


def test_a_lost_database_of_an_installed_wordpress_is_never_an_open_installer(cp, own_mariadb):
    """Broke: DROP DATABASE of an installed WordPress (made with an admin email, so installed
    through the real edge with the control plane's installer key). Verified: its installer
    is never served (404, before and after); drift reports lost data, not a missing database;
    reconcile puts the site in maintenance (503) and recreates nothing; `site reinstall`
    installs it afresh with a new admin password that logs in; then nothing is left to do."""
    from hostplane.providers.wordpress import WordPressInstaller

    host = f"wp2.localhost:{cp.edge_port}"
    with cp.api() as api:
        made = api.post(
            "/v1/sites", json={"name": "wp2", "type": "wordpress", "admin_email": "me@example.org"}
        ).json()
    assert cp.wait_operation(made["operation"]["id"])["status"] == "SUCCEEDED"
    for path in ("/wp-admin/install.php", "/wp-admin/install.php?step=2", "/WP-ADMIN/install.php"):
        assert cp.edge_get(host, path).status_code == 404, path
    db = naming.site_database("wp2")
    with _mariadb(own_mariadb) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE `{db}`")
    assert [(f["kind"], f["resource"], f["action"]) for f in _drift(cp)] == [
        ("lost", f"database:{db}", "maintenance")
    ]
    _reconcile(cp)
    assert cp.edge_get(host).status_code == 503
    assert cp.edge_get(host, "/wp-admin/install.php").status_code == 503
    with _mariadb(own_mariadb) as conn, conn.cursor() as cur:
        cur.execute("SHOW DATABASES LIKE %s", (db,))
        assert cur.fetchall() == ()  # nothing recreated empty behind the operator's back
    assert [(f["kind"], f["action"]) for f in _drift(cp)] == [("lost", "report")]

    with cp.api() as api:
        again = api.post("/v1/sites/wp2/reinstall").json()
    assert cp.wait_operation(again["operation"]["id"])["status"] == "SUCCEEDED"
    password = again["admin"]["password"]
    assert password != made["admin"]["password"]
    WordPressInstaller(f"http://127.0.0.1:{cp.edge_port}").check_login(host, password)
    assert cp.edge_get(host, "/wp-admin/install.php").status_code == 404
    assert cp.cli("site", "destroy", "wp2", "--wait").returncode == 0
    _converged(cp)
