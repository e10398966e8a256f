"""A real control plane with HOSTPLANE_SITE_DB_URL unset, on a MariaDB set up as Debian does
(root: socket login only): it makes its own account, provisions a WordPress site with it, and
its password is in no log line and no file (workflow inputs included), only sealed."""

from __future__ import annotations

import sqlite3
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from hostplane.providers.mariadb.admin import ADMIN_SECRET, admin_user
from hostplane.secretbox import SecretBox
from tests.e2e.harness import ControlPlane
from tests.e2e.traces import db_traces
from tests.services_mariadb import PrivateMariaDB


@pytest.fixture(scope="module")
def debian_db() -> Iterator[PrivateMariaDB]:
    server = PrivateMariaDB(root_auth="socket").start()
    yield server
    server.stop()


def _admin_password(data_dir: Path) -> tuple[str, str]:
    """The plane's account and its password, as the plane itself opens it."""
    with sqlite3.connect(data_dir / "state.sqlite3") as conn:
        (plane,) = conn.execute("SELECT plane_id FROM plane").fetchone()
        (sealed,) = conn.execute(
            "SELECT ciphertext FROM secrets WHERE owner_kind = 'plane' AND owner_id = ?"
            " AND name = ?",
            (plane, ADMIN_SECRET),
        ).fetchone()
    key = (data_dir / "secret.key").read_bytes().strip()
    return admin_user(plane), SecretBox(key).open(sealed)


def test_a_provision_on_hostplanes_own_account_never_shows_its_password(debian_db, tmp_path):
    cp = ControlPlane(
        tmp_path / "data",
        extra_env={
            "HOSTPLANE_SITE_DB_SOCKET": debian_db.socket,
            "HOSTPLANE_SITE_DB_PORT": str(debian_db.port),
        },
    ).start()
    name = f"adm-{uuid.uuid4().hex[:6]}"
    try:
        created = cp.cli("site", "create", name, "--type", "wordpress", "--wait")
        assert created.returncode == 0, created.stdout + created.stderr + cp.log_tail()
        user, password = _admin_password(cp.data_dir)
        pymysql.connect(unix_socket=debian_db.socket, user=user, password=password).close()

        log = cp.log_path.read_bytes()
        assert b"mariadb.admin.made" in log and b"root_socket_refused" not in log
        secret = password.encode()
        assert secret not in log + created.stdout.encode() + created.stderr.encode()
        # The state, and the sites' files beside it (webroots, sockets, the edge's own).
        everything = [*cp.data_dir.rglob("*"), *cp.host_dir.rglob("*"), *cp.root_dir.rglob("*")]
        files = [p for p in everything if p.is_file() and not p.is_socket()]
        assert any(p.name == "wp-config.php" for p in files)
        assert [p for p in files if secret in p.read_bytes()] == []
        key_mode = stat.S_IMODE((cp.data_dir / "secret.key").stat().st_mode)
        assert key_mode == 0o600  # what opens the sealed copy: root's alone

        doctor = cp.cli("doctor").stdout
        assert f"ok   site databases: MariaDB at {debian_db.socket} answers Hostplane's" in doctor
        assert "ok   site database root: root is refused" in doctor
        assert secret not in doctor.encode()

        destroyed = cp.cli("site", "destroy", name, "--wait")
        assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
        assert db_traces(debian_db, name) == ([], [])
        assert secret not in cp.log_path.read_bytes()
    finally:
        cp.stop()
        cp.clean_host()
