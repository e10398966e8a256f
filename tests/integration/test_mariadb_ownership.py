"""Two control planes on one real MariaDB server: neither adopts, changes, removes or lists what
the other, or nobody, made (DESIGN: every external resource carries this plane's identity)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pymysql
import pytest
from structlog.testing import capture_logs

from hostplane import naming
from hostplane.errors import ConflictError, ForeignResourceError
from hostplane.providers.base import Outcome, PermanentError
from hostplane.providers.mariadb import ledger
from hostplane.providers.mariadb.ownership import mark
from hostplane.providers.mariadb.provider import MariaDBProvider, generate_password
from tests.fixtures_mariadb import root_connection


def plane_id() -> str:
    return f"hp{uuid.uuid4().hex[:12]}"


@pytest.fixture
def planes(mariadb_server) -> tuple[MariaDBProvider, MariaDBProvider]:
    return (
        MariaDBProvider(mariadb_server.url, owner=plane_id()),
        MariaDBProvider(mariadb_server.url, owner=plane_id()),
    )


@pytest.fixture
def root(mariadb_server) -> Iterator[pymysql.cursors.Cursor]:
    with root_connection(mariadb_server) as conn, conn.cursor() as cur:
        yield cur


def _site() -> tuple[str, str, str]:
    site = f"o{uuid.uuid4().hex[:8]}"
    return naming.site_database(site), naming.site_database_user(site), generate_password()


def _comment(root, db: str) -> str | None:
    root.execute(
        "SELECT SCHEMA_COMMENT FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (db,)
    )
    row = root.fetchone()
    return row[0] if row else None


def _claims(root, *names: str) -> set[tuple[str, str, str]]:
    ledger.ensure(root)
    root.execute(f"SELECT plane, kind, name FROM {ledger.TABLE} WHERE name IN %s", (names,))
    return set(root.fetchall())


def _user_exists(root, user: str) -> bool:
    root.execute("SELECT COUNT(*) FROM mysql.user WHERE User = %s", (user,))
    return bool(root.fetchone()[0])


def _logs_in(mariadb_server, user: str, password: str, db: str) -> bool:
    try:
        pymysql.connect(
            unix_socket=mariadb_server.socket, user=user, password=password, database=db
        ).close()
    except pymysql.err.OperationalError:
        return False
    return True


def test_another_planes_database_is_refused_by_name_and_keeps_working(planes, root, mariadb_server):
    a, b = planes
    db, user, password = _site()
    assert a.ensure_database(db, user, password) is Outcome.CREATED
    try:
        with pytest.raises(ForeignResourceError) as info:
            b.ensure_database(db, user, generate_password())
        assert isinstance(info.value, ConflictError) and isinstance(info.value, PermanentError)
        assert f"database {db}" in str(info.value) and a.owner in str(info.value)
        assert _logs_in(mariadb_server, user, password, db)  # its password was not changed
        assert _comment(root, db) == mark(a.owner)
        assert _claims(root, db, user) == {(a.owner, "database", db), (a.owner, "user", user)}
        reason = b.claimable(db, user)
        assert reason is not None and a.owner in reason and db in reason
        assert a.claimable(db, user) is None
    finally:
        a.remove_database(db, user)


def test_another_planes_account_alone_is_refused_before_anything_is_claimed(planes, root):
    a, b = planes
    db, user, password = _site()
    a.ensure_database(db, user, password)
    other_db = f"{db}_2"
    try:
        with pytest.raises(ForeignResourceError, match=f"user {user} .*{a.owner}"):
            b.ensure_database(other_db, user, generate_password())
        assert _comment(root, other_db) is None  # not created
        assert _claims(root, other_db) == set()  # not even claimed
    finally:
        a.remove_database(db, user)


def test_another_planes_resources_are_never_removed_nor_observed(planes, root, mariadb_server):
    a, b = planes
    db, user, password = _site()
    a.ensure_database(db, user, password)
    try:
        with capture_logs() as logs:
            assert b.remove_database(db, user) is Outcome.ABSENT
            assert b.remove_database_only(db) is Outcome.ABSENT
            assert b.remove_user(user) is Outcome.ABSENT
        left = [e for e in logs if e["event"] == "mariadb.left_alone"]
        assert {(e["resource"], e["holder"]) for e in left} == {
            (f"database {db}", a.owner),
            (f"user {user}", a.owner),
        }
        assert _logs_in(mariadb_server, user, password, db)
        dbs, users = b.observe()
        assert db not in dbs and user not in users
        dbs, users = a.observe()
        assert db in dbs and user in users
    finally:
        assert a.remove_database(db, user) is Outcome.DELETED
    assert _claims(root, db, user) == set()


def test_hand_made_database_and_user_are_never_listed_changed_or_dropped(
    planes, root, mariadb_server
):
    db, user, password = _site()
    root.execute(f"CREATE DATABASE `{db}`")
    root.execute("CREATE USER %s@'localhost' IDENTIFIED BY %s", (user, password))
    root.execute(f"GRANT ALL ON `{db}`.* TO %s@'localhost'", (user,))
    try:
        for plane in planes:
            dbs, users = plane.observe()
            assert db not in dbs and user not in users
            with pytest.raises(ForeignResourceError, match="nobody"):
                plane.ensure_database(db, user, generate_password())
            assert "nobody" in (plane.claimable(db, user) or "")
            assert plane.remove_database(db, user) is Outcome.ABSENT
            assert plane.remove_database_only(db) is Outcome.ABSENT
            assert plane.remove_user(user) is Outcome.ABSENT
        assert _logs_in(mariadb_server, user, password, db)
        assert _comment(root, db) == ""
        assert _claims(root, db, user) == set()
    finally:
        root.execute(f"DROP DATABASE IF EXISTS `{db}`")
        root.execute("DROP USER IF EXISTS %s@'localhost'", (user,))


@pytest.mark.parametrize("crashed_after", ["claim", "create database", "create user"])
def test_a_claim_without_its_create_converges_on_retry(planes, root, mariadb_server, crashed_after):
    """A run that claimed the names, and maybe made some of them, then died: the retry
    finishes the job as its own, and the other plane still cannot take it."""
    a, b = planes
    db, user, password = _site()
    ledger.claim(root, a.owner, [("database", db, ""), ("user", user, "localhost")])
    if crashed_after in ("create database", "create user"):
        root.execute(f"CREATE DATABASE `{db}` COMMENT %s", (mark(a.owner),))
    if crashed_after == "create user":
        root.execute("CREATE USER %s@'localhost' IDENTIFIED BY 'an-earlier-one'", (user,))
    try:
        with pytest.raises(ForeignResourceError, match=a.owner):
            b.ensure_database(db, user, generate_password())
        expected = Outcome.UNCHANGED if crashed_after == "create user" else Outcome.CREATED
        assert a.ensure_database(db, user, password) is expected
        assert _logs_in(mariadb_server, user, password, db)
        assert a.ensure_database(db, user, password) is Outcome.UNCHANGED
    finally:
        a.remove_database(db, user)
    assert _claims(root, db, user) == set() and not _user_exists(root, user)


def test_a_name_another_plane_claimed_is_reserved_until_it_lets_go(planes, root):
    a, b = planes
    db, user, _ = _site()
    ledger.claim(root, a.owner, [("database", db, ""), ("user", user, "localhost")])
    with pytest.raises(
        ForeignResourceError, match=f"reserved and belongs to control plane {a.owner}"
    ):
        b.ensure_database(db, user, generate_password())
    assert _comment(root, db) is None and not _user_exists(root, user)
    assert a.remove_database(db, user) is Outcome.ABSENT  # nothing made; the claims go
    assert _claims(root, db, user) == set()
    assert b.ensure_database(db, user, generate_password()) is Outcome.CREATED
    assert b.remove_database(db, user) is Outcome.DELETED


def test_a_plane_that_predates_marks_adopts_an_unmarked_wp_database_and_marks_it(
    mariadb_server, root
):
    """As main made them: no comment, no claim, the grant unescaped; with a table of data."""
    db, user, password = _site()
    root.execute(f"CREATE DATABASE `{db}`")
    root.execute(f"CREATE TABLE `{db}`.posts (title TEXT)")
    root.execute(f"INSERT INTO `{db}`.posts VALUES ('kept')")
    root.execute("CREATE USER %s@'localhost' IDENTIFIED BY 'old-password'", (user,))
    root.execute(f"GRANT ALL ON `{db}`.* TO %s@'localhost'", (user,))
    old = MariaDBProvider(mariadb_server.url, owner=plane_id(), adopt_unmarked=True)
    other = MariaDBProvider(mariadb_server.url, owner=plane_id())
    try:
        assert db not in old.observe()[0]  # not listed until a step ensures it
        assert old.claimable(db, user) is None
        assert old.ensure_database(db, user, password) is Outcome.UPDATED
        assert _comment(root, db) == mark(old.owner)
        assert (old.owner, "user", user) in _claims(root, user)
        old.check_login(user, password, db)
        root.execute(f"SELECT title FROM `{db}`.posts")
        assert root.fetchall() == (("kept",),)
        assert (db in old.observe()[0], user in old.observe()[1]) == (True, True)
        assert old.ensure_database(db, user, password) is Outcome.UNCHANGED
        with pytest.raises(ForeignResourceError, match=old.owner):
            other.ensure_database(db, user, generate_password())
    finally:
        old.remove_database(db, user)
    assert _comment(root, db) is None and not _user_exists(root, user)


def test_adoption_never_takes_a_name_without_hostplanes_prefix(mariadb_server, root):
    name = f"legacy_{uuid.uuid4().hex[:6]}"
    root.execute(f"CREATE DATABASE `{name}`")
    old = MariaDBProvider(mariadb_server.url, owner=plane_id(), adopt_unmarked=True)
    try:
        with pytest.raises(ForeignResourceError, match="nobody"):
            old.ensure_database(name, name, generate_password())
        assert old.remove_database_only(name) is Outcome.ABSENT
        assert _comment(root, name) == "" and not _user_exists(root, name)
    finally:
        root.execute(f"DROP DATABASE IF EXISTS `{name}`")


def _race(planes, db: str, user: str, passwords: dict[str, str]) -> dict[str, object]:
    """Both planes ensure the same names at the same moment: what each one got."""
    results: dict[str, object] = {}
    barrier = threading.Barrier(len(planes))

    def run(plane: MariaDBProvider) -> None:
        barrier.wait()
        try:
            results[plane.owner] = plane.ensure_database(db, user, passwords[plane.owner])
        except ForeignResourceError as exc:
            results[plane.owner] = exc

    threads = [threading.Thread(target=run, args=(p,)) for p in planes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_planes_racing_for_one_name_never_share_it(planes, root, mariadb_server):
    """Both ensure the same names at once, five times: never both succeed, the loser names the
    winner, and every name ends up held by one plane alone (or by none, when both lost)."""
    for _ in range(5):
        db, user, _pw = _site()
        passwords = {p.owner: generate_password() for p in planes}
        results = _race(planes, db, user, passwords)
        assert set(results) == {p.owner for p in planes}
        winners = [o for o, r in results.items() if r is Outcome.CREATED]
        assert len(winners) <= 1, results
        if winners:
            assert _logs_in(mariadb_server, user, passwords[winners[0]], db)
            assert _comment(root, db) == mark(winners[0])
        for plane in planes:
            if winners and plane.owner != winners[0]:
                assert winners[0] in str(results[plane.owner])
            plane.remove_database(db, user)  # what a compensation or a destroy does
        assert _claims(root, db, user) == set() and _comment(root, db) is None


def test_the_ledger_is_marked_and_site_users_cannot_read_it(planes, root, mariadb_server):
    a, _ = planes
    db, user, password = _site()
    a.ensure_database(db, user, password)
    try:
        assert (_comment(root, ledger.LEDGER) or "").startswith("hostplane:ledger")
        conn = pymysql.connect(unix_socket=mariadb_server.socket, user=user, password=password)
        with conn, conn.cursor() as cur, pytest.raises(pymysql.err.OperationalError):
            cur.execute(f"SELECT * FROM {ledger.TABLE}")
    finally:
        a.remove_database(db, user)
