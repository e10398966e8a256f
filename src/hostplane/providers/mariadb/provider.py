"""Per-site MariaDB databases and users, created and removed idempotently.

Each site gets database `wp_<site>` and user `wp_<site>`@`localhost` with a random password and
privileges on that one database only. Sites connect through the server's unix socket, so the
account is bound to `localhost`. Identifiers are validated and quoted; passwords travel only as
query parameters and never appear in a message or a log line.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pymysql
import structlog

from hostplane.errors import ValidationError
from hostplane.providers.base import Outcome, PermanentError, TemporaryError

log = structlog.get_logger(__name__)

DATABASE_RE = re.compile(r"^[a-z0-9_]{1,64}$")
USER_RE = re.compile(r"^[a-z0-9_]{1,32}$")
ACCOUNT_HOST = "localhost"
# Server gone, unreachable, busy, or a lock that will clear: worth another try.
TEMPORARY_CODES = frozenset({2002, 2003, 2006, 2013, 1040, 1205, 1213})
DENIED_CODES = frozenset({1044, 1045, 1227})


def generate_password(length: int = 32) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _database(name: str) -> str:
    if not DATABASE_RE.fullmatch(name):
        raise ValidationError(f"{name!r} is not a valid database name (a-z, 0-9, _; 1-64)")
    return f"`{name}`"


def _user(name: str) -> str:
    if not USER_RE.fullmatch(name):
        raise ValidationError(f"{name!r} is not a valid database user name (a-z, 0-9, _; 1-32)")
    return name


class MariaDBProvider:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("mysql", "mariadb"):
            raise ValidationError(f"site database URL must start with mysql://, not {url!r}")
        query = parse_qs(parts.query)
        self._connect_args: dict[str, Any] = {
            "user": unquote(parts.username or "root"),
            "password": unquote(parts.password or ""),
            "charset": "utf8mb4",
            "autocommit": True,
            "connect_timeout": 5,
        }
        if "unix_socket" in query:
            self._connect_args["unix_socket"] = query["unix_socket"][0]
            self.where = f"MariaDB at {query['unix_socket'][0]}"
        else:
            self._connect_args["host"] = parts.hostname or "127.0.0.1"
            self._connect_args["port"] = parts.port or 3306
            self.where = f"MariaDB at {self._connect_args['host']}:{self._connect_args['port']}"
        self._socket: str | None = None

    @contextmanager
    def _cursor(self, **overrides: Any) -> Iterator[Any]:
        try:
            conn = pymysql.connect(**{**self._connect_args, **overrides})
        except pymysql.MySQLError as exc:
            raise self._error(exc, "connect") from None
        try:
            with conn.cursor() as cur:
                yield cur
        except pymysql.MySQLError as exc:
            raise self._error(exc, "query") from None
        finally:
            conn.close()

    def _error(self, exc: pymysql.MySQLError, doing: str) -> Exception:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        message = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
        if code in TEMPORARY_CODES:
            return TemporaryError(
                f"{self.where} is not reachable or busy ({doing})", detail=message
            )
        if code in DENIED_CODES:
            return PermanentError(
                f"{self.where} refused the control plane's account: give it rights to create "
                "databases and users (HOSTPLANE_SITE_DB_URL)",
                detail=message,
            )
        return PermanentError(f"{self.where} failed to {doing}", detail=message)

    def socket_path(self) -> str:
        if self._socket is None:
            with self._cursor() as cur:
                cur.execute("SELECT @@socket")
                self._socket = str(cur.fetchone()[0])
        return self._socket

    def _exists(self, cur: Any, name: str, user: str) -> tuple[bool, bool]:
        cur.execute(
            "SELECT (SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s),"
            " (SELECT COUNT(*) FROM mysql.user WHERE User = %s AND Host = %s)",
            (name, user, ACCOUNT_HOST),
        )
        db, account = cur.fetchone()
        return bool(db), bool(account)

    def ensure_database(self, name: str, user: str, password: str) -> Outcome:
        db_sql, user = _database(name), _user(user)
        with self._cursor() as cur:
            had_db, had_user = self._exists(cur, name, user)
            cur.execute(
                f"CREATE DATABASE IF NOT EXISTS {db_sql} "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
            cur.execute(
                "CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (user, ACCOUNT_HOST, password)
            )
            # A retry converges on the stored password even if an earlier run set another.
            cur.execute("ALTER USER %s@%s IDENTIFIED BY %s", (user, ACCOUNT_HOST, password))
            cur.execute(f"GRANT ALL PRIVILEGES ON {db_sql}.* TO %s@%s", (user, ACCOUNT_HOST))
        outcome = Outcome.UNCHANGED if had_db and had_user else Outcome.CREATED
        log.info("mariadb.ensured", database=name, user=user, outcome=outcome.value)
        return outcome

    def remove_database(self, name: str, user: str) -> Outcome:
        db_sql, user = _database(name), _user(user)
        with self._cursor() as cur:
            had_db, had_user = self._exists(cur, name, user)
            cur.execute(f"DROP DATABASE IF EXISTS {db_sql}")
            cur.execute("DROP USER IF EXISTS %s@%s", (user, ACCOUNT_HOST))
        outcome = Outcome.DELETED if had_db or had_user else Outcome.ABSENT
        log.info("mariadb.removed", database=name, user=user, outcome=outcome.value)
        return outcome

    def remove_database_only(self, name: str) -> Outcome:
        with self._cursor() as cur:
            had_db, _ = self._exists(cur, name, "")
            cur.execute(f"DROP DATABASE IF EXISTS {_database(name)}")
        return Outcome.DELETED if had_db else Outcome.ABSENT

    def remove_user(self, user: str) -> Outcome:
        user = _user(user)
        with self._cursor() as cur:
            _, had_user = self._exists(cur, "", user)
            cur.execute("DROP USER IF EXISTS %s@%s", (user, ACCOUNT_HOST))
        return Outcome.DELETED if had_user else Outcome.ABSENT

    def check_login(self, user: str, password: str, database: str) -> None:
        """Log in as the site would (through the socket) and run a query in its database."""
        _database(database)
        try:
            conn = pymysql.connect(
                unix_socket=self.socket_path(),
                user=_user(user),
                password=password,
                database=database,
                connect_timeout=5,
            )
        except pymysql.MySQLError as exc:
            raise PermanentError(
                f"user {user} cannot use database {database} on {self.where}",
                detail=str(exc.args[1]) if len(exc.args) > 1 else str(exc),
            ) from None
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
        finally:
            conn.close()

    def observe(self, prefix: str = "wp_") -> tuple[frozenset[str], frozenset[str]]:
        """The databases and users named with `prefix`, in one query."""
        like = prefix.replace("_", "\\_") + "%"
        with self._cursor() as cur:
            cur.execute(
                "SELECT 'db', SCHEMA_NAME FROM information_schema.SCHEMATA"
                " WHERE SCHEMA_NAME LIKE %s"
                " UNION ALL SELECT 'user', User FROM mysql.user WHERE User LIKE %s",
                (like, like),
            )
            rows = cur.fetchall()
        return (
            frozenset(name for kind, name in rows if kind == "db"),
            frozenset(name for kind, name in rows if kind == "user"),
        )
