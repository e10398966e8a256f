"""The MariaDB provider against a real private server: idempotency, isolation, observe, errors.
Ownership between control planes: test_mariadb_ownership.py."""

from __future__ import annotations

import uuid

import pymysql
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostplane import naming
from hostplane.errors import ValidationError
from hostplane.providers.base import Outcome, PermanentError, TemporaryError
from hostplane.providers.mariadb import identifiers as ids
from hostplane.providers.mariadb.connection import Account, cursor
from hostplane.providers.mariadb.provider import MariaDBProvider, generate_password
from tests.fixtures_mariadb import root_connection
from tests.services import free_port


def plane_id() -> str:
    return f"hp{uuid.uuid4().hex[:12]}"


@pytest.fixture
def provider(mariadb_server) -> MariaDBProvider:
    return MariaDBProvider(mariadb_server.url, owner=plane_id())


def _site() -> tuple[str, str, str]:
    site = f"t{uuid.uuid4().hex[:8]}"
    return naming.site_database(site), naming.site_database_user(site), generate_password()


def _as(mariadb_server, user: str, password: str, database: str | None = None):
    return pymysql.connect(
        unix_socket=mariadb_server.socket,
        user=user,
        password=password,
        database=database,
        autocommit=True,
    )


def test_ensure_is_idempotent_and_remove_leaves_nothing(provider, mariadb_server):
    db, user, password = _site()
    assert provider.ensure_database(db, user, password) is Outcome.CREATED
    assert provider.ensure_database(db, user, password) is Outcome.UNCHANGED
    provider.check_login(user, password, db)
    assert (db in provider.observe()[0], user in provider.observe()[1]) == (True, True)
    assert provider.remove_database(db, user) is Outcome.DELETED
    assert provider.remove_database(db, user) is Outcome.ABSENT
    dbs, users = provider.observe()
    assert db not in dbs and user not in users


def test_a_site_user_reaches_its_own_database_only(provider, mariadb_server):
    (db_a, user_a, pw_a), (db_b, user_b, pw_b) = _site(), _site()
    provider.ensure_database(db_a, user_a, pw_a)
    provider.ensure_database(db_b, user_b, pw_b)
    try:
        with _as(mariadb_server, user_a, pw_a, db_a) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE t (x INT)")
            cur.execute("SHOW DATABASES")
            assert {r[0] for r in cur.fetchall()} == {db_a, "information_schema"}
            for stmt in (
                f"SELECT * FROM `{db_b}`.t",
                "CREATE DATABASE wp_evil",
                "SELECT User FROM mysql.user",
            ):
                with pytest.raises(pymysql.err.OperationalError):
                    cur.execute(stmt)
    finally:
        provider.remove_database(db_a, user_a)
        provider.remove_database(db_b, user_b)


def test_a_site_user_cannot_reach_a_database_its_name_matches_as_a_pattern(
    provider, mariadb_server
):
    """MariaDB reads `_` in a GRANT's database as a wildcard: site `a-b` (database wp_a_b)
    granted ON wp_a_b.* could use site `axb`'s wp_axb. The grant is escaped: it cannot."""
    tag = uuid.uuid4().hex[:6]
    (db_ab, user_ab), (db_axb, user_axb) = (
        (naming.site_database(s), naming.site_database_user(s)) for s in (f"a{tag}-b", f"a{tag}xb")
    )
    pw_ab, pw_axb = generate_password(), generate_password()
    provider.ensure_database(db_ab, user_ab, pw_ab)
    provider.ensure_database(db_axb, user_axb, pw_axb)
    try:
        with _as(mariadb_server, user_ab, pw_ab) as conn, conn.cursor() as cur:
            cur.execute("SHOW DATABASES")
            assert {r[0] for r in cur.fetchall()} == {db_ab, "information_schema"}
            with pytest.raises(pymysql.err.OperationalError):
                cur.execute(f"CREATE TABLE `{db_axb}`.stolen (x INT)")
    finally:
        provider.remove_database(db_ab, user_ab)
        provider.remove_database(db_axb, user_axb)


def test_a_retry_converges_on_the_stored_password(provider, mariadb_server):
    db, user, first = _site()
    provider.ensure_database(db, user, first)
    second = generate_password()
    provider.ensure_database(db, user, second)
    provider.check_login(user, second, db)
    with pytest.raises(PermanentError):
        provider.check_login(user, first, db)
    provider.remove_database(db, user)


def test_bad_identifiers_are_refused_before_any_query(provider):
    for db, user in [
        ("wp_x; DROP DATABASE mysql", "wp_x"),
        ("wp_x", "wp`x"),
        ("WP_UPPER", "wp_x"),
        ("wp_x", "u" * 33),
        ("", "wp_x"),
    ]:
        with pytest.raises(ValidationError):
            provider.ensure_database(db, user, "pw")


def test_unreachable_server_is_temporary_and_never_shows_the_password():
    provider = MariaDBProvider(f"mysql://root@127.0.0.1:{free_port()}/", owner=plane_id())
    secret = generate_password()
    with pytest.raises(TemporaryError) as info:
        provider.ensure_database("wp_x", "wp_x", secret)
    assert "MariaDB at 127.0.0.1" in str(info.value)
    assert secret not in str(info.value) + str(info.value.detail)


def test_a_wrong_account_is_permanent(mariadb_server):
    url = mariadb_server.url.replace("root@", "nobody:wrong@")
    with pytest.raises(PermanentError, match="refused the control plane's account"):
        MariaDBProvider(url, owner=plane_id()).ensure_database("wp_x", "wp_x", "pw")


def test_a_url_that_is_not_mysql_is_refused_without_showing_its_password():
    with pytest.raises(ValidationError, match="mysql://") as info:
        MariaDBProvider("postgresql://root:s3cretpw@127.0.0.1/", owner=plane_id())
    assert "s3cretpw" not in str(info.value)


def test_an_owner_that_is_not_a_plane_id_is_refused(mariadb_server):
    for bad in ("", "HP1", "hp;drop", "x" * 23):
        with pytest.raises(ValidationError, match="control plane id"):
            MariaDBProvider(mariadb_server.url, owner=bad)


site_names = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", fullmatch=True)


@given(site_names)
def test_every_site_name_gives_identifiers_the_provider_accepts(name):
    ids.database(naming.site_database(name))
    ids.user(naming.site_database_user(name))
    assert ids.grant_target(naming.site_database(name)).count("\\_") == naming.site_database(
        name
    ).count("_")


def test_populated_lists_this_planes_databases_that_hold_tables(provider, mariadb_server):
    empty, full = f"wp_e{uuid.uuid4().hex[:6]}", f"wp_f{uuid.uuid4().hex[:6]}"
    for name in (empty, full):
        provider.ensure_database(name, name, "pw-" + uuid.uuid4().hex)
    with root_connection(mariadb_server) as conn:
        conn.cursor().execute(f"CREATE TABLE `{full}`.wp_options (id INT)")
    try:
        found = provider.populated()
        assert full in found and empty not in found
        # The reconciler's inventory: the same, with observe()'s, on one connection.
        assert provider.inventory() == (*provider.observe(), found)
    finally:
        for name in (empty, full):
            provider.remove_database(name, name)


def test_connections_share_one_tls_context_and_negotiate_as_pymysql_does(mariadb_server):
    """PyMySQL's default context (TLS when the server offers it, nothing verified) is made
    once: every connection of the provider's gets the same, and the same TLS as before."""
    account = Account.from_url(mariadb_server.url)
    with cursor(account) as first, cursor(account) as second:
        assert first.connection.ctx is second.connection.ctx is not None
        first.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        ours = first.fetchone()[1]
    plain = pymysql.connect(**account.connect_args())
    try:
        with plain.cursor() as cur:
            cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            assert bool(cur.fetchone()[1]) == bool(ours)
    finally:
        plain.close()
