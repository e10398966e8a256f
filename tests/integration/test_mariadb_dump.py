"""A tenant's database dumped into its folder and moved to another database, against a real
MariaDB (issue 17 item 1: delete with backup, reassign): the dump is written as the tenant's
user, never through a link the tenant planted, and it restores; tables move in one RENAME
TABLE, run again it moves what is left, and what cannot move (views, triggers) is named."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostplane.providers.base import Outcome, PermanentError
from hostplane.providers.mariadb.tenant_dbs import TenantDatabases
from tests.fixtures_mariadb import root_connection

NOBODY = 65534  # the tenant's uid and gid here: any user that is not root


@pytest.fixture
def provider(mariadb_server) -> Iterator[TenantDatabases]:
    mariadb = TenantDatabases(mariadb_server.url, owner=f"hp{uuid.uuid4().hex[:12]}")
    yield mariadb


@pytest.fixture
def home() -> Iterator[Path]:
    """A home whose private/ folder is the tenant's (0700), the path to it traversable."""
    base = Path(tempfile.mkdtemp(prefix="hp-dump-", dir="/tmp"))
    base.chmod(0o711)
    (base / "private").mkdir(mode=0o700)
    os.chown(base / "private", NOBODY, NOBODY)
    yield base
    shutil.rmtree(base)


def test_a_dump_is_written_as_the_tenant_never_through_a_planted_link_and_restores(
    provider: TenantDatabases, mariadb_server, home: Path
):
    name, again = f"tdb_4_dump_{uuid.uuid4().hex[:8]}", f"tdb_4_back_{uuid.uuid4().hex[:8]}"
    provider.ensure_tenant_database(name)
    provider.ensure_tenant_database(again)
    with root_connection(mariadb_server) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE `{name}`.orders (id INT PRIMARY KEY, item VARCHAR(32))")
        cur.execute(f"INSERT INTO `{name}`.orders VALUES (1, 'tea'), (2, 'ünïcode')")
    victim = home / "victim"
    victim.write_text("root's, untouched\n")
    victim.chmod(0o666)  # even a file the tenant could write is never reached through a link
    private, filename = home / "private", f"{name}-20260101T000000Z.sql.gz"
    (private / f".{filename}.partial").symlink_to(victim)
    (private / filename).symlink_to(victim)
    try:
        assert provider.dump_database(name, private, filename, NOBODY, NOBODY) is Outcome.CREATED
        assert victim.read_text() == "root's, untouched\n"
        st = (private / filename).lstat()
        assert (st.st_uid, oct(st.st_mode & 0o777)) == (NOBODY, "0o600")
        assert not (private / filename).is_symlink()
        assert sorted(os.listdir(private)) == [filename]  # nothing partial left
        sql = gzip.decompress((private / filename).read_bytes())
        assert b"CREATE TABLE `orders`" in sql and b"CREATE DATABASE" not in sql
        subprocess.run(
            ["mariadb", "--no-defaults", "-uroot", f"--socket={mariadb_server.socket}", again],
            input=sql,
            check=True,
        )
        with root_connection(mariadb_server) as conn, conn.cursor() as cur:
            cur.execute(f"SELECT id, item FROM `{again}`.orders ORDER BY id")
            assert cur.fetchall() == ((1, "tea"), (2, "ünïcode"))
        # run again (a resumed step): written again, the same result
        assert provider.dump_database(name, private, filename, NOBODY, NOBODY) is Outcome.CREATED
        assert sorted(os.listdir(private)) == [filename]
    finally:
        provider.remove_tenant_database(name)
        provider.remove_tenant_database(again)


def test_a_folder_that_is_a_link_or_not_the_tenants_is_refused(
    provider: TenantDatabases, home: Path
):
    name = f"tdb_4_dump_{uuid.uuid4().hex[:8]}"
    provider.ensure_tenant_database(name)
    elsewhere = home / "elsewhere"
    elsewhere.mkdir()
    (home / "linked").symlink_to(elsewhere)
    try:
        with pytest.raises(PermanentError, match="not a directory"):
            provider.dump_database(name, home / "linked", "x.sql.gz", NOBODY, NOBODY)
        with pytest.raises(PermanentError, match="not the tenant's own"):
            provider.dump_database(name, elsewhere, "x.sql.gz", NOBODY, NOBODY)
        assert os.listdir(elsewhere) == []
        with pytest.raises(PermanentError, match="missing or not this control plane's"):
            provider.dump_database("tdb_4_dump_absent", home / "private", "x.gz", NOBODY, NOBODY)
    finally:
        provider.remove_tenant_database(name)


def test_tables_move_across_in_one_rename_and_what_cannot_move_is_named(
    provider: TenantDatabases, mariadb_server
):
    source, target = f"tdb_4_from_{uuid.uuid4().hex[:8]}", f"tdb_4_to_{uuid.uuid4().hex[:8]}"
    provider.ensure_tenant_database(source)
    provider.ensure_tenant_database(target)
    try:
        with root_connection(mariadb_server) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE TABLE `{source}`.a (v INT)")
            cur.execute(f"INSERT INTO `{source}`.a VALUES (7)")
            cur.execute(f"CREATE TABLE `{source}`.`b``c` (v INT)")
            cur.execute(f"CREATE VIEW `{source}`.va AS SELECT v FROM `{source}`.a")
            cur.execute(
                f"CREATE TRIGGER `{source}`.ta BEFORE INSERT ON `{source}`.a "
                "FOR EACH ROW SET NEW.v = NEW.v"
            )
        with pytest.raises(PermanentError, match=r"views: va; triggers: ta"):
            provider.check_movable(source)
        with root_connection(mariadb_server) as conn, conn.cursor() as cur:
            cur.execute(f"DROP VIEW `{source}`.va")
            cur.execute(f"DROP TRIGGER `{source}`.ta")
        provider.check_movable(source)
        with pytest.raises(PermanentError, match="not empty"):
            provider.remove_empty_tenant_database(source)
        assert provider.move_tables(source, target) is Outcome.UPDATED
        assert provider.move_tables(source, target) is Outcome.UNCHANGED  # run again
        assert provider.contents(target) == {"tables": ["a", "b`c"]}
        assert provider.remove_empty_tenant_database(source) is Outcome.DELETED
        assert provider.move_tables(source, target) is Outcome.UNCHANGED  # source gone
        with root_connection(mariadb_server) as conn, conn.cursor() as cur:
            cur.execute(f"SELECT v FROM `{target}`.a")
            assert cur.fetchall() == ((7,),)
        provider.ensure_tenant_database(source)
        with root_connection(mariadb_server) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE TABLE `{source}`.a (v INT)")  # made by hand: a clash
        with pytest.raises(PermanentError, match="has tables named as"):
            provider.move_tables(source, target)
    finally:
        provider.remove_tenant_database(source)
        provider.remove_tenant_database(target)
