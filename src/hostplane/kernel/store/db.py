"""Engines for the state database, and its migrations."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).parent / "migrations"
# A kind keeps its own migrations in kinds/<kind>/migrations/versions, chained to the kernel's.
KIND_MIGRATIONS = Path(__file__).parents[2] / "kinds"
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def transient(exc: BaseException) -> bool:
    """A moment without the database (a dropped connection, a failover, a lock wait that ran
    out): the same transaction is worth trying again."""
    return isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError))


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given without a driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str) -> sa.Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            private_sqlite_file(Path(parsed.database))
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
    engine = sa.create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def private_sqlite_file(path: Path) -> None:
    """A SQLite database 0600 (in a directory made 0700 if it is missing), before SQLite opens
    it: SQLite gives its -wal, -shm and journal files the database file's mode. Files of an
    older install that were made 0644 are tightened too. (`hostctl up` makes the data
    directory itself 0700.)"""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600))
    path.chmod(0o600)
    for suffix in SQLITE_SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.chmod(0o600)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def ensure_database_exists(url: str) -> None:
    """Create the PostgreSQL database named in `url` if it is missing (SQLite makes its own)."""
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() != "postgresql" or not parsed.database:
        return
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": parsed.database},
            ).scalar()
            if not exists:
                quoted = admin.dialect.identifier_preparer.quote(parsed.database)
                conn.execute(sa.text(f"CREATE DATABASE {quoted}"))
    finally:
        admin.dispose()


def version_locations() -> list[Path]:
    """The kernel's migrations and every kind's, wherever a kind has them."""
    return [MIGRATIONS / "versions", *sorted(KIND_MIGRATIONS.glob("*/migrations/versions"))]


def alembic_config(engine: sa.Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("version_locations", " ".join(str(p) for p in version_locations()))
    cfg.set_main_option("path_separator", "space")
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: sa.Engine) -> None:
    """Bring the state database to the newest schema (every kind's branch included)."""
    command.upgrade(alembic_config(engine), "heads")


def tune_sqlite_workflow_database(url: str) -> None:
    """The workflow engine's SQLite database in WAL mode with synchronous=NORMAL, like the
    state database: one write per checkpoint instead of a rollback journal fsynced several
    times per commit (measured: ~5 ms of every step). A process crash loses nothing; a power
    loss can lose the last checkpoints, and their steps then run again (they are idempotent).
    WAL is a property of the file; synchronous is set on each new connection."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return
    path = str(Path(parsed.database).resolve())
    private_sqlite_file(Path(path))
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")

    @sa.event.listens_for(sa.engine.Engine, "connect")
    def _normal_sync(dbapi_conn: Any, _record: Any) -> None:
        if isinstance(dbapi_conn, sqlite3.Connection):
            row = dbapi_conn.execute("PRAGMA database_list").fetchone()
            if row is not None and row[2] and str(Path(row[2]).resolve()) == path:
                dbapi_conn.execute("PRAGMA synchronous=NORMAL")
