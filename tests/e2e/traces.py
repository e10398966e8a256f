"""What a site leaves on this host, looked up directly in MariaDB, /etc/passwd, /proc and Caddy."""

from __future__ import annotations

import pwd
from pathlib import Path

import pymysql

from hostplane import naming
from tests.e2e.harness import ControlPlane


def _mariadb(mariadb_server) -> pymysql.Connection:
    return pymysql.connect(unix_socket=mariadb_server.socket, user="root", autocommit=True)


def db_traces(mariadb_server, site: str) -> tuple[list[str], list[str]]:
    with _mariadb(mariadb_server) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s",
            (naming.site_database(site),),
        )
        dbs = [r[0] for r in cur.fetchall()]
        cur.execute(
            "SELECT User FROM mysql.user WHERE User = %s", (naming.site_database_user(site),)
        )
        users = [r[0] for r in cur.fetchall()]
    return dbs, users


def ledger_claims(mariadb_server, site: str) -> list[tuple[str, str]]:
    """The claims any plane holds in the server's ledger on the site's database and user."""
    names = (naming.site_database(site), naming.site_database_user(site))
    with _mariadb(mariadb_server) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.TABLES"
            " WHERE TABLE_SCHEMA = 'hostplane_ledger' AND TABLE_NAME = 'owned'"
        )
        if not cur.fetchone()[0]:
            return []
        cur.execute("SELECT kind, name FROM hostplane_ledger.owned WHERE name IN %s", (names,))
        return [(str(kind), str(name)) for kind, name in cur.fetchall()]


def system_user_exists(site: str) -> bool:
    try:
        pwd.getpwnam(naming.site_system_user(site))
    except KeyError:
        return False
    return True


def fpm_running(cp: ControlPlane, site: str) -> bool:
    pid_file = cp.run_dir / "php-fpm" / f"{site}.pid"
    if not pid_file.exists():
        return False
    return Path(f"/proc/{pid_file.read_text().strip()}").exists()


def assert_no_trace(cp: ControlPlane, mariadb_server, site: str) -> None:
    """The site (created without a tenant) left nothing: files, PHP-FPM pool, database, claims,
    routes. Its system user is its tenant's (the one made for it, named after it), which
    removing the site leaves: once the site is gone (destroyed, not merely FAILED, which a
    retry still needs its tenant for), deleting that tenant removes the user and its home."""
    assert not cp.site_dir(site).exists()
    assert not (cp.sites_dir / site).exists()  # nor where an older release kept it
    assert not (cp.data_dir / "php-fpm" / f"{site}.conf").exists()
    assert not (cp.run_dir / "php-fpm" / f"{site}.sock").exists()
    assert not fpm_running(cp, site)
    assert db_traces(mariadb_server, site) == ([], [])
    assert ledger_claims(mariadb_server, site) == []
    assert naming.edge_route_id(site) not in cp.edge_route_ids()
    assert cp.edge_get(f"{site}.localhost").status_code == 404
    with cp.api() as api:
        destroyed = api.get(f"/v1/sites/{site}").status_code == 404
    if destroyed:
        deleted = cp.cli("tenant", "delete", site, "--wait")
        assert deleted.returncode == 0, deleted.stdout + deleted.stderr
        assert not system_user_exists(site)
        assert not (cp.homes_dir / site).exists()
