"""The ledger on the site database server: which plane owns which account and database.

MariaDB accounts cannot carry a comment, so Hostplane keeps a database of its own,
`hostplane_ledger` (itself marked), with one table: a row per claimed (kind, name, host), the
claiming plane and when. The primary key on (kind, name, host) makes a claim exclusive: two
planes never both hold one name. Every plane using the server shares it; site users have no
rights on it. The queries here are what ownership.py judges.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hostplane.providers.mariadb.ownership import Found, Kind, marked_by

LEDGER = "hostplane_ledger"
LEDGER_MARK = "hostplane:ledger (claims of every control plane using this server)"
TABLE = f"`{LEDGER}`.`owned`"

Claim = tuple[str, str, str]  # kind, name, host


def ensure(cur: Any) -> None:
    """Make the ledger if it is missing (idempotent, safe when planes race)."""
    cur.execute(
        f"CREATE DATABASE IF NOT EXISTS `{LEDGER}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        " COMMENT %s",
        (LEDGER_MARK,),
    )
    cur.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} ("
        " plane VARCHAR(32) NOT NULL,"
        " kind VARCHAR(16) NOT NULL,"
        " name VARCHAR(80) NOT NULL,"
        " host VARCHAR(255) NOT NULL,"
        " created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),"
        " PRIMARY KEY (kind, name, host)"
        ") ENGINE=InnoDB"
    )


def look(cur: Any, database: str, user: str, host: str) -> tuple[Found, Found]:
    """The database `database` and the account `user`@`host`, with their marks and claims, in
    one query."""
    cur.execute(
        "SELECT"
        " (SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s),"
        " (SELECT SCHEMA_COMMENT FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s),"
        f" (SELECT plane FROM {TABLE} WHERE kind = %s AND name = %s AND host = ''),"
        " (SELECT COUNT(*) FROM mysql.user WHERE User = %s AND Host = %s),"
        f" (SELECT plane FROM {TABLE} WHERE kind = %s AND name = %s AND host = %s)",
        (
            database,
            database,
            Kind.DATABASE.value,
            database,
            user,
            host,
            Kind.USER.value,
            user,
            host,
        ),
    )
    db_exists, comment, db_claim, user_exists, user_claim = cur.fetchone()
    return (
        Found(Kind.DATABASE, database, "", bool(db_exists), db_claim, marked_by(comment)),
        Found(Kind.USER, user, host, bool(user_exists), user_claim),
    )


def claim(cur: Any, plane: str, claims: Sequence[Claim]) -> None:
    """Claim names for `plane`; a name already claimed keeps its claimant (the caller looks
    again to learn who won)."""
    if not claims:
        return
    rows = ", ".join(["(%s, %s, %s, %s)"] * len(claims))
    params = [str(v) for kind, name, host in claims for v in (plane, kind, name, host)]
    cur.execute(
        f"INSERT INTO {TABLE} (plane, kind, name, host) VALUES {rows}"
        " ON DUPLICATE KEY UPDATE plane = plane",
        params,
    )


def release(cur: Any, plane: str, claims: Sequence[Claim]) -> None:
    """Drop `plane`'s claims on these names; another plane's claims stay."""
    if not claims:
        return
    match = " OR ".join(["(kind = %s AND name = %s AND host = %s)"] * len(claims))
    params = [str(value) for c in claims for value in c]
    cur.execute(f"DELETE FROM {TABLE} WHERE plane = %s AND ({match})", [plane, *params])


def observe(cur: Any, plane: str, mark: str, prefix: str) -> list[tuple[str, str]]:
    """(kind, name) of the databases carrying `mark` and the accounts `plane` claims that
    exist, named with `prefix`, in one query."""
    like = prefix.replace("_", "\\_") + "%"
    cur.execute(
        "SELECT 'database', SCHEMA_NAME FROM information_schema.SCHEMATA"
        " WHERE SCHEMA_NAME LIKE %s AND SCHEMA_COMMENT = %s"
        " UNION ALL"
        f" SELECT 'user', o.name FROM {TABLE} o"
        " JOIN mysql.user u ON u.User = o.name AND u.Host = o.host"
        " WHERE o.kind = %s AND o.plane = %s AND o.name LIKE %s",
        (like, mark, Kind.USER.value, plane, like),
    )
    return [(str(kind), str(name)) for kind, name in cur.fetchall()]
