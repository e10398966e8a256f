"""Hostplane's own account on the site database server (providers/mariadb/admin.py), made as
root through the socket of a real MariaDB set up as Debian does (root: socket login only), its
password sealed in a real state database; and `hostctl doctor`'s root check."""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
from structlog.testing import capture_logs

from hostplane.cli import doctor
from hostplane.errors import HostplaneError
from hostplane.kernel.store.uow import Store
from hostplane.providers.base import Outcome, PermanentError
from hostplane.providers.mariadb import ledger
from hostplane.providers.mariadb.admin import ADMIN_SECRET, AdminAccount, Bootstrap, admin_user
from hostplane.providers.mariadb.provider import MariaDBProvider, generate_password
from hostplane.providers.mariadb.tenant_dbs import TenantDatabases
from hostplane.secretbox import SecretBox, load_secret_box
from hostplane.services import PlaneSecret, open_store, site_databases
from hostplane.settings import Settings
from tests.integration.test_mariadb_dump import NOBODY
from tests.services_mariadb import PrivateMariaDB


@pytest.fixture(scope="module")
def debian_db() -> Iterator[PrivateMariaDB]:
    """A server whose root logs in only through the socket, as the OS user root."""
    server = PrivateMariaDB(root_auth="socket").start()
    yield server
    server.stop()


class Plane:
    """One control plane's state directory: settings, state database, secret box."""

    def __init__(self, data_dir: Path, socket: str, port: int) -> None:
        self.settings = Settings(
            data_dir=data_dir, site_db_url=None, site_db_socket=socket, site_db_port=port
        )
        self.store: Store = open_store(self.settings)
        self.box: SecretBox = load_secret_box(self.settings)
        self.id = self.store.plane_id()
        self.user = admin_user(self.id)

    def start(self) -> MariaDBProvider:
        """What a start of the control plane builds (services.build_services)."""
        return site_databases(self.settings, self.store, self.box)

    def sealed(self) -> str | None:
        with self.store.unit_of_work() as uow:
            return uow.secrets.get("plane", self.id, ADMIN_SECRET)

    def password(self) -> str:
        sealed = self.sealed()
        assert sealed is not None
        return self.box.open(sealed)


@pytest.fixture
def plane(debian_db, tmp_path) -> Iterator[Plane]:
    p = Plane(tmp_path / "data", debian_db.socket, debian_db.port)
    yield p
    p.store.dispose()


def _root(server: PrivateMariaDB) -> pymysql.Connection:
    return pymysql.connect(unix_socket=server.socket, user="root", autocommit=True)


def _accounts(server: PrivateMariaDB) -> list[str]:
    with _root(server) as conn, conn.cursor() as cur:
        cur.execute("SELECT User FROM mysql.user WHERE User LIKE 'hostplane\\_%'")
        return sorted(r[0] for r in cur.fetchall())


def _logs_in(socket: str, user: str, password: str) -> bool:
    try:
        pymysql.connect(unix_socket=socket, user=user, password=password).close()
    except pymysql.err.OperationalError:
        return False
    return True


def _drop_account(server_socket: str, user: str, plane_id: str) -> None:
    conn = pymysql.connect(unix_socket=server_socket, user="root", autocommit=True)
    with conn, conn.cursor() as cur:
        cur.execute("DROP USER IF EXISTS %s@'localhost'", (user,))
        ledger.ensure(cur)
        ledger.release(cur, plane_id, [("user", user, "localhost")])


def test_the_first_start_makes_hostplanes_account_and_a_restart_reuses_it(plane, debian_db):
    before = _accounts(debian_db)
    first = plane.start()
    assert first.ensure_database("wp_first", "wp_first", generate_password()) is Outcome.CREATED
    assert _accounts(debian_db) == sorted([*before, plane.user])
    sealed = plane.sealed()

    second = plane.start()  # a restart: new objects, the same state database
    assert second.ensure_database("wp_second", "wp_second", generate_password()).changed
    assert _accounts(debian_db) == sorted([*before, plane.user])
    assert plane.sealed() == sealed  # the same password, not a new one

    # It logs in with what is stored; root is not asked again (here it could not be).
    no_root = AdminAccount(
        plane.id,
        PlaneSecret(plane.store, plane.box, plane.id, ADMIN_SECRET),
        Bootstrap(socket=debian_db.socket, tcp_port=debian_db.port, root_user="nobody"),
    )
    with capture_logs() as logs:
        assert no_root.account().user == plane.user
    assert [e["event"] for e in logs] == ["mariadb.admin.reused"]
    for name in ("wp_first", "wp_second"):
        second.remove_database(name, name)


def test_the_sealed_secret_is_the_password_the_provider_uses(plane, debian_db):
    provider = plane.start()
    db, user, password = "wp_sealed", "wp_sealed", generate_password()
    with capture_logs() as logs:
        provider.ensure_database(db, user, password)
        provider.check_login(user, password, db)
        provider.observe()
        provider.remove_database(db, user)
    admin_password = plane.password()
    assert _logs_in(debian_db.socket, plane.user, admin_password)
    assert logs and not any(admin_password in repr(event) for event in logs)
    assert admin_password not in repr(provider.__dict__)
    # Not root: its rights stop at the sites' databases.
    with pytest.raises(PermanentError, match=f"refused the control plane's account {plane.user}"):
        provider.ensure_database("notwp_x", "wp_notwp", generate_password())
    provider.remove_database("notwp_x", "wp_notwp")
    with _root(debian_db) as conn, conn.cursor() as cur:
        cur.execute("SHOW GRANTS FOR %s@'localhost'", (plane.user,))
        grants = " ".join(r[0] for r in cur.fetchall())
    assert "ALL PRIVILEGES ON *.*" not in grants and "`wp\\_%`" in grants

    # Its password changed behind Hostplane's back: the next start resets it to the sealed one.
    with _root(debian_db) as conn, conn.cursor() as cur:
        cur.execute("ALTER USER %s@'localhost' IDENTIFIED BY 'changed-by-hand'", (plane.user,))
    plane.start().observe()
    assert _logs_in(debian_db.socket, plane.user, admin_password)
    assert not _logs_in(debian_db.socket, plane.user, "changed-by-hand")


def test_processes_starting_together_make_one_account_with_one_password(plane, debian_db):
    providers = [plane.start() for _ in range(4)]
    barrier = threading.Barrier(len(providers))
    errors: list[BaseException] = []

    def first_use(provider: MariaDBProvider) -> None:
        barrier.wait()
        try:
            provider.observe()
        except BaseException as exc:  # reported below, with the thread's own error
            errors.append(exc)

    threads = [threading.Thread(target=first_use, args=(p,)) for p in providers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _accounts(debian_db).count(plane.user) == 1
    assert _logs_in(debian_db.socket, plane.user, plane.password())
    for provider in providers:  # each kept the one stored password, not one of its own
        provider.observe()


def test_root_over_tcp_is_the_fallback_when_the_socket_refuses_it_and_it_says_so(
    mariadb_server, tmp_path
):
    """The suite's server lets root in over TCP with no password; the socket named is wrong."""
    port = int(mariadb_server.url.rsplit(":", 1)[1].strip("/"))
    p = Plane(tmp_path / "data", str(tmp_path / "missing.sock"), port)
    try:
        with capture_logs() as logs:
            provider = p.start()
            assert provider.claimable("wp_fallback", "wp_fallback") is None
        events = {e["event"]: e for e in logs}
        assert "mariadb.admin.root_socket_refused" in events
        assert "root logs in over TCP" in events["mariadb.admin.root_over_tcp"]["warning"]
        assert events["mariadb.admin.made"]["root_via"] == "tcp"
        assert events["mariadb.admin.made"]["socket"] == mariadb_server.socket
        assert _logs_in(mariadb_server.socket, p.user, p.password())
    finally:
        _drop_account(mariadb_server.socket, p.user, p.id)
        p.store.dispose()


def test_no_root_login_at_all_is_refused_with_what_to_do(debian_db, tmp_path):
    p = Plane(tmp_path / "data", str(tmp_path / "missing.sock"), debian_db.port)
    try:
        with pytest.raises(PermanentError, match="HOSTPLANE_SITE_DB_URL") as info:
            p.start().observe()
        assert "root is refused" in str(info.value) and p.password() not in str(info.value)
        assert p.user not in _accounts(debian_db)
    finally:
        p.store.dispose()


def test_doctor_checks_hostplanes_account_and_warns_about_root_over_tcp(
    plane, debian_db, mariadb_server, tmp_path
):
    assert "Hostplane makes its own account there at first start" in doctor._site_databases(
        plane.settings
    )
    plane.start().observe()
    assert f"answers Hostplane's own account {plane.user}" in doctor._site_databases(plane.settings)
    assert "root is refused" in doctor._site_db_root(plane.settings)

    open_door = Settings(data_dir=tmp_path / "other", site_db_url=mariadb_server.url)
    with pytest.raises(HostplaneError, match="with no password, so any site user can") as info:
        doctor._site_db_root(open_door)
    assert "unix_socket" in str(info.value) and len(str(info.value)) < 300
    checks = {c.name: c for c in doctor.run_checks(open_door)}
    assert not checks["site database root"].ok and not checks["site database root"].required


def test_hostplanes_account_locks_a_tenants_account_ends_its_sessions_and_dumps_its_routines(
    plane, debian_db
):
    """The rights of tenant_dbs.py as Hostplane's own account (not root): the lock flag read
    from mysql.global_priv, open sessions ended, and a dump that takes the routines."""
    mariadb = TenantDatabases.sharing(plane.start())
    db, user, password = "tdb_4_lock_shop", "tdu_4_lock_app", generate_password()
    mariadb.ensure_tenant_database(db)
    try:
        mariadb.ensure_account(user, password, db, "ALL PRIVILEGES")
        held = pymysql.connect(unix_socket=debian_db.socket, user=user, password=password)
        with held.cursor() as cur:
            cur.execute(f"CREATE TABLE `{db}`.t (v INT)")
            cur.execute(f"CREATE PROCEDURE `{db}`.p() SELECT 1")
        assert mariadb.lock_account(user, True) is Outcome.UPDATED
        with pytest.raises(pymysql.MySQLError), held.cursor() as cur:
            cur.execute("SELECT 1")  # its session was ended
        mariadb.check_account(user, password, db, locked=True)
        assert mariadb.observe_tenants("tdb_", "tdu_").locked == {user}
        assert mariadb.lock_account(user, True) is Outcome.UNCHANGED
        home = Path(tempfile.mkdtemp(prefix="hp-dump-", dir="/tmp"))
        home.chmod(0o711)  # the tenant passes through to its folder
        (home / "private").mkdir(mode=0o700)
        os.chown(home / "private", NOBODY, NOBODY)
        try:
            mariadb.dump_database(db, home / "private", "d.sql.gz", NOBODY, NOBODY)
            dumped = gzip.decompress((home / "private" / "d.sql.gz").read_bytes())
        finally:
            shutil.rmtree(home)
        assert b"CREATE DEFINER" in dumped
        assert mariadb.lock_account(user, False) is Outcome.UPDATED
        mariadb.check_account(user, password, db)
    finally:
        mariadb.remove_account(user)
        mariadb.remove_tenant_database(db)


def test_a_tenants_user_on_a_wordpress_sites_database_reaches_that_one_only(plane, debian_db):
    """Issue 17 item 4: a tenant adds its own user to its WordPress site's database; Hostplane's
    own account grants it (GRANT OPTION on wp\\_%), with `_` escaped: `wp_a_b` does not also
    cover the site database `wp_axb` of another tenant's site."""
    sites = plane.start()
    mariadb = TenantDatabases.sharing(sites)
    mine, theirs, user, password = "wp_a_b", "wp_axb", "tdu_1_a_app", generate_password()
    for db in (mine, theirs):
        sites.ensure_database(db, db, generate_password())
    try:
        mariadb.ensure_account(user, password, mine, "ALL PRIVILEGES")
        mariadb.check_account(user, password, mine)
        seen = mariadb.observe_tenants("tdb_", "tdu_")
        assert seen.grants[user] == {"wp\\_a\\_b": seen.grants[user]["wp\\_a\\_b"]}
        with pytest.raises(pymysql.MySQLError) as denied:
            pymysql.connect(
                unix_socket=debian_db.socket, user=user, password=password, database=theirs
            )
        assert denied.value.args[0] == 1044  # access denied to that database
        conn = pymysql.connect(unix_socket=debian_db.socket, user=user, password=password)
        with conn, conn.cursor() as cur:
            cur.execute("SHOW DATABASES")
            assert {r[0] for r in cur.fetchall()} == {"information_schema", mine}
        assert sites.observe() == ({mine, theirs}, {mine, theirs})  # its account is no wp_ one
    finally:
        mariadb.remove_account(user)
        for db in (mine, theirs):
            sites.remove_database(db, db)
    assert not _logs_in(debian_db.socket, user, password)
