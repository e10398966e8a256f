"""The database kind's isolation canary (issue 17 item 9, `hostctl canary`): each tenant gets
a database and a user through the API; then each user, logged in with the password shown
once, attacks the other tenant's database: listing it, reading, writing and dropping it,
through `information_schema` and `mysql.*`, and granting itself more. The tenants' names make
an unescaped `_` in a database-level grant cover the other's database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pymysql

from hostplane.cli.isolation import Canary, Probe

KIND = "database"
# Access denied (database, user, table, column, privilege), unknown database.
DENIED = frozenset({1044, 1045, 1142, 1143, 1227, 1049})


@dataclass(frozen=True)
class Login:
    """A tenant's user on its database, as the API showed them."""

    user: str
    password: str
    database: str
    table: str
    socket: str | None
    host: str | None
    port: int | None

    def connect(self, database: str | None = None) -> Any:
        where: dict[str, Any] = (
            {"unix_socket": self.socket}
            if self.socket
            else {"host": self.host or "127.0.0.1", "port": self.port or 3306}
        )
        return pymysql.connect(
            **where,
            user=self.user,
            password=self.password,
            database=database or self.database,
            autocommit=True,
            connect_timeout=5,
        )


def probes(canary: Canary) -> Iterator[Probe]:
    a, b = (made(canary, tenant) for tenant in canary.tenants)
    for login in (a, b):
        with login.connect() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE TABLE `{login.table}` (v VARCHAR(32))")
            cur.execute(f"INSERT INTO `{login.table}` VALUES ('canary')")
    yield from attack(b, a)
    yield from attack(a, b)


def made(canary: Canary, tenant: str) -> Login:
    """A database `canary` of the tenant's and a user `probe` on it with all privileges."""
    database = canary.done("POST", f"/v1/tenants/{tenant}/databases", {"name": "canary"})
    user = canary.done("POST", f"/v1/databases/{database['database']}/users", {"name": "probe"})
    return login_of(user, table=f"secret_{tenant.replace('-', '_')}")


def login_of(user: dict[str, Any], table: str) -> Login:
    """A Login from the API's answer to a user's creation (`UserAccepted`)."""
    conn = user["connection"]
    return Login(
        user=user["user"],
        password=user["password"],
        database=user["database"],
        table=table,
        socket=conn["socket"],
        host=conn["host"],
        port=conn["port"],
    )


def attack(me: Login, victim: Login) -> Iterator[Probe]:
    """`me` against `victim`'s database: one Probe per attack, held when refused."""
    mine, theirs, table = me.database, victim.database, victim.table
    who = f"{me.user} on {theirs}"
    with me.connect() as conn:
        shown = _column(conn, "SHOW DATABASES")
        yield _probe(f"SHOW DATABASES ({who})", shown <= {"information_schema", mine}, shown)
        schemata = _column(conn, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
        yield _probe(f"information_schema.SCHEMATA ({who})", theirs not in schemata, schemata)
        tables = _column(
            conn,
            f"SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA='{theirs}'",
        )
        yield _probe(f"information_schema.TABLES ({who})", not tables, tables)
        granted = _column(conn, "SELECT TABLE_SCHEMA FROM information_schema.SCHEMA_PRIVILEGES")
        escaped = mine.replace("_", "\\_")
        yield _probe(
            f"information_schema.SCHEMA_PRIVILEGES ({who})", granted <= {mine, escaped}, granted
        )
        for label, sql in (
            ("USE", f"USE `{theirs}`"),
            ("SELECT", f"SELECT * FROM `{theirs}`.`{table}`"),
            ("INSERT", f"INSERT INTO `{theirs}`.`{table}` VALUES ('x')"),
            ("DROP TABLE", f"DROP TABLE `{theirs}`.`{table}`"),
            ("DROP DATABASE", f"DROP DATABASE `{theirs}`"),
            ("CREATE TABLE", f"CREATE TABLE `{theirs}`.`planted` (v INT)"),
            ("CREATE DATABASE", f"CREATE DATABASE `{mine}2`"),
            ("SELECT mysql.user", "SELECT * FROM mysql.user"),
            ("SELECT mysql.db", "SELECT * FROM mysql.db"),
            ("GRANT", f"GRANT SELECT ON `{mine}`.* TO '{me.user}'@'localhost'"),
        ):
            yield _refused(conn, f"{label} ({who})", sql)
    try:
        me.connect(theirs).close()
    except pymysql.MySQLError as exc:
        yield _probe(f"login ({who})", exc.args[0] in DENIED, f"refused: {exc.args[0]}")
    else:
        yield _probe(f"login ({who})", False, "logged in")


def _column(conn: Any, sql: str) -> set[str]:
    with conn.cursor() as cur:
        cur.execute(sql)
        return {str(row[0]) for row in cur.fetchall()}


def _refused(conn: Any, name: str, sql: str) -> Probe:
    with conn.cursor() as cur:
        try:
            cur.execute(sql)
        except pymysql.MySQLError as exc:
            code = exc.args[0]
            return Probe(KIND, name, code in DENIED, f"refused: {code}")
    return Probe(KIND, name, False, f"allowed: {sql}")


def _probe(name: str, held: bool, seen: object) -> Probe:
    return Probe(
        KIND, name, held, "" if held else f"saw {sorted(seen) if isinstance(seen, set) else seen}"
    )
