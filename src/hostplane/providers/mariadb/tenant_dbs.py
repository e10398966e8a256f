"""Tenants' MariaDB databases and accounts, on the site database server, only this plane's.

The same ownership rules as the sites' databases (provider.py, ownership.py): a database
carries this plane's mark in its COMMENT, an account is claimed in the ledger; anything foreign
is refused by `ensure_*`, left alone by `remove_*`, never listed by `observe_tenants`.

An account is granted on exactly one database, with the database named with its wildcards
escaped (identifiers.grant_target); `ensure_account` revokes any other database-level grant
the account holds (made by hand) and puts back a grant that is missing or was changed. An
account is locked (`ACCOUNT LOCK`) while its tenant is suspended, its open sessions ended: a
locked account is confirmed by a login being refused as locked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql
import structlog

from hostplane.errors import ValidationError
from hostplane.providers.base import Outcome, PermanentError
from hostplane.providers.mariadb import dump, ledger
from hostplane.providers.mariadb import identifiers as ids
from hostplane.providers.mariadb.connection import error_code, error_message
from hostplane.providers.mariadb.identifiers import ACCOUNT_HOST
from hostplane.providers.mariadb.moves import MovableDatabases
from hostplane.providers.mariadb.ownership import Kind, Verdict
from hostplane.providers.mariadb.provider import MariaDBProvider

log = structlog.get_logger(__name__)

ACCOUNT_RE = re.compile(r"^[a-z0-9_]{1,80}$")
# MariaDB's answer to a login of a locked account (ER_ACCOUNT_HAS_BEEN_LOCKED).
ACCOUNT_LOCKED = 4151
UNKNOWN_THREAD = 1094  # ER_NO_SUCH_THREAD: a session that ended before its KILL
# What a GRANT may give here (MariaDB's names), checked before it is put in a statement.
GRANTABLE = frozenset({"ALL PRIVILEGES", "SELECT, SHOW VIEW"})


def account(name: str) -> str:
    """An account name of a tenant's user ([a-z0-9_]{1,80}); it travels as a parameter."""
    if not ACCOUNT_RE.fullmatch(name):
        raise ValidationError(f"{name!r} is not a valid database account (a-z, 0-9, _; 1-80)")
    return name


@dataclass(frozen=True, slots=True)
class TenantObservation:
    """This plane's tenant databases and accounts, and every database-level grant of those
    accounts: account → {grant pattern as mysql.db holds it → privileges (select, ...)};
    `locked`: those of the accounts that are locked."""

    databases: frozenset[str] = frozenset()
    accounts: frozenset[str] = frozenset()
    grants: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)
    locked: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a tenant's client connects: the server's socket, or host and port."""

    host: str
    port: int
    socket: str


class TenantDatabases(MovableDatabases):
    """The tenants' databases and accounts, on the server (and account) of the sites'."""

    _endpoint: Endpoint | None = None

    @classmethod
    def sharing(cls, sites: MariaDBProvider) -> TenantDatabases:
        """The same server, account and plane as the sites' database provider."""
        return cls(sites._server, owner=sites.owner)

    def endpoint(self) -> Endpoint:
        """Where clients connect (asked once): accounts are bound to `localhost`, so the
        server's unix socket, or `localhost` and its port."""
        if self._endpoint is None:
            with self._cursor() as cur:
                cur.execute("SELECT @@socket, @@port")
                socket, port = cur.fetchone()
            self._endpoint = Endpoint(host=ACCOUNT_HOST, port=int(port), socket=str(socket))
        return self._endpoint

    def ensure_tenant_database(self, name: str) -> Outcome:
        """The database, made with this plane's mark (claimed first); foreign: refused."""
        sql = ids.database(name)
        with self._cursor() as cur:
            first, _ = self._judge(cur, name, "")
            self._refuse_foreign(first)
            ledger.claim(cur, self.owner, [(Kind.DATABASE, name, "")])
            db, _ = self._judge(cur, name, "")
            self._refuse_foreign(db)
            self._make_database(cur, db, sql)
        outcome = Outcome.CREATED if first.verdict is Verdict.CREATE else Outcome.UNCHANGED
        log.info("mariadb.tenant_database.ensured", database=name, outcome=outcome.value)
        return outcome

    def remove_tenant_database(self, name: str) -> Outcome:
        return self.remove_database_only(name)

    def dump_database(self, name: str, folder: Path, filename: str, uid: int, gid: int) -> Outcome:
        """The database (this plane's) dumped, gzipped, into `folder/filename` as uid:gid."""
        with self._cursor() as cur:
            db, _ = self._judge(cur, name, "")
        if not db.ours:
            raise PermanentError(
                f"database {name} on {self.where} is missing or not this control plane's: "
                "nothing to dump (delete it without backup)"
            )
        return dump.dump_database(self._server.account(), name, folder, filename, uid, gid)

    def ensure_account(
        self, user: str, password: str, database: str, grant: str, locked: bool = False
    ) -> Outcome:
        """The account with `password`, granted `grant` on exactly `database` (one of this
        plane's), no other database-level grant, and locked or not as `locked` says."""
        user = account(user)
        if grant not in GRANTABLE:
            raise ValidationError(f"{grant!r} is not a grant of a tenant's database user")
        target = ids.grant_pattern(database)
        with self._cursor() as cur:
            db, first = self._judge(cur, database, user)
            if not db.ours:
                raise PermanentError(
                    f"database {database} on {self.where} is missing or not this control "
                    f"plane's: account {user} is not granted on it"
                )
            self._refuse_foreign(first)
            ledger.claim(cur, self.owner, [(Kind.USER, user, ACCOUNT_HOST)])
            _, judged = self._judge(cur, database, user)
            self._refuse_foreign(judged)
            self._make_user(cur, judged, password)
            changed = self._grant_exactly(cur, user, target, grant)
            changed |= _lock(cur, user, locked)
        outcome = (
            Outcome.CREATED
            if first.verdict is Verdict.CREATE
            else Outcome.UPDATED
            if changed
            else Outcome.UNCHANGED
        )
        log.info("mariadb.account.ensured", user=user, database=database, outcome=outcome.value)
        return outcome

    def _grant_exactly(self, cur: Any, user: str, target: str, grant: str) -> bool:
        held = _grants_of(cur, user)
        changed = False
        for pattern in sorted(held):
            if pattern != target:
                log.warning("mariadb.account.extra_grant", user=user, database=pattern)
                self._revoke(cur, user, pattern)
                changed = True
        want = _privileges_of(grant)
        have = held.get(target, frozenset())
        # ALL on MariaDB may hold more than this list (delete_history), never the grant option.
        exact = have == want or (want is ids.ALL_PRIVILEGES and want <= have)
        if not exact or "grant" in have:
            if have:
                self._revoke(cur, user, target)
            cur.execute(f"GRANT {grant} ON `{target}`.* TO %s@%s", (user, ACCOUNT_HOST))
            changed = True
        return changed

    def _revoke(self, cur: Any, user: str, pattern: str) -> None:
        quoted = "`" + pattern.replace("`", "``") + "`"
        try:
            cur.execute(f"REVOKE ALL PRIVILEGES ON {quoted}.* FROM %s@%s", (user, ACCOUNT_HOST))
        except pymysql.MySQLError as exc:
            raise PermanentError(
                f"account {user} on {self.where} holds a grant on {pattern} that control plane "
                f"{self.owner} may not revoke: revoke it by hand",
                detail=error_message(exc),
            ) from None

    def lock_account(self, user: str, locked: bool) -> Outcome:
        """This plane's account locked (no new login) or unlocked; ABSENT when it is gone or
        not this plane's (left alone)."""
        user = account(user)
        with self._cursor() as cur:
            _, found = self._judge(cur, "", user)
            if not found.ours:
                return Outcome.ABSENT
            changed = _lock(cur, user, locked)
        outcome = Outcome.UPDATED if changed else Outcome.UNCHANGED
        log.info("mariadb.account.lock", user=user, locked=locked, outcome=outcome.value)
        return outcome

    def remove_account(self, user: str) -> Outcome:
        """The account dropped (with its grants) if it is this plane's, its open sessions
        ended first (a dropped account's session lives on, and may hold table locks); its
        claim released."""
        user = account(user)
        with self._cursor() as cur:
            _, found = self._judge(cur, "", user)
            if found.ours:
                _end_sessions(cur, user)
        return self._remove(None, user)

    def check_account(self, user: str, password: str, database: str, locked: bool = False) -> None:
        """Log in as the tenant's client would (through the socket) and use the database; a
        `locked` account must be refused as locked (its password right: checked first)."""
        ids.database(database)
        try:
            conn = pymysql.connect(
                unix_socket=self.socket_path(),
                user=account(user),
                password=password,
                database=database,
                connect_timeout=5,
            )
        except pymysql.MySQLError as exc:
            if locked and error_code(exc) == ACCOUNT_LOCKED:
                return
            raise PermanentError(
                f"user {user} cannot use database {database} on {self.where}",
                detail=error_message(exc),
            ) from None
        if locked:
            conn.close()
            raise PermanentError(f"user {user} on {self.where} logs in: it is not locked")
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
        finally:
            conn.close()

    def observe_tenants(self, db_prefix: str, user_prefix: str) -> TenantObservation:
        """This plane's databases named `db_prefix`…, its accounts named `user_prefix`… and
        their database-level grants, in two queries."""
        common = _common_prefix(db_prefix, user_prefix)
        with self._cursor() as cur:
            rows = ledger.observe(cur, self.owner, self._mark, common)
            accounts = frozenset(n for k, n in rows if k == "user" and n.startswith(user_prefix))
            cur.execute(
                "SELECT * FROM mysql.db WHERE Host = %s AND User LIKE %s",
                (ACCOUNT_HOST, user_prefix.replace("_", "\\_") + "%"),
            )
            names = [d[0].lower() for d in cur.description]
            grants: dict[str, dict[str, frozenset[str]]] = {}
            for row in cur.fetchall():
                record = dict(zip(names, row, strict=True))
                user = str(record["user"])
                if user in accounts:
                    grants.setdefault(user, {})[str(record["db"])] = _held(record)
            cur.execute(
                f"SELECT User FROM mysql.global_priv WHERE Host = %s AND User LIKE %s AND {LOCKED}",
                (ACCOUNT_HOST, user_prefix.replace("_", "\\_") + "%"),
            )
            locked = frozenset(str(r[0]) for r in cur.fetchall()) & accounts
        return TenantObservation(
            databases=frozenset(n for k, n in rows if k == "database" and n.startswith(db_prefix)),
            accounts=accounts,
            grants=grants,
            locked=locked,
        )


# mysql.global_priv's test of a locked account (its Priv JSON).
LOCKED = "COALESCE(JSON_VALUE(Priv, '$.account_locked'), 0) = 1"


def _lock(cur: Any, user: str, locked: bool) -> bool:
    """The account locked or unlocked as `locked` says, a locked one's open sessions ended
    (a lock only refuses new logins); whether that changed anything."""
    cur.execute(
        f"SELECT {LOCKED} FROM mysql.global_priv WHERE User = %s AND Host = %s",
        (user, ACCOUNT_HOST),
    )
    row = cur.fetchone()
    changed = row is None or bool(row[0]) != locked
    if changed:
        cur.execute(
            f"ALTER USER %s@%s ACCOUNT {'LOCK' if locked else 'UNLOCK'}", (user, ACCOUNT_HOST)
        )
    if locked:
        changed |= _end_sessions(cur, user) > 0
    return changed


def _end_sessions(cur: Any, user: str) -> int:
    """Every open session of the account killed; how many there were."""
    cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s", (user,))
    ended = 0
    for (session,) in cur.fetchall():
        try:
            cur.execute("KILL CONNECTION %s", (int(session),))
            ended += 1
        except pymysql.MySQLError as exc:
            if error_code(exc) != UNKNOWN_THREAD:  # it ended by itself meanwhile
                raise
    if ended:
        log.info("mariadb.account.sessions_ended", user=user, sessions=ended)
    return ended


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _held(record: dict[str, Any]) -> frozenset[str]:
    """The privileges one mysql.db row gives (select, insert, ..., grant)."""
    return frozenset(
        column[: -len("_priv")]
        for column, value in record.items()
        if column.endswith("_priv") and str(value) == "Y"
    )


def _grants_of(cur: Any, user: str) -> dict[str, frozenset[str]]:
    cur.execute("SELECT * FROM mysql.db WHERE User = %s AND Host = %s", (user, ACCOUNT_HOST))
    names = [d[0].lower() for d in cur.description]
    found: dict[str, frozenset[str]] = {}
    for row in cur.fetchall():
        record = dict(zip(names, row, strict=True))
        found[str(record["db"])] = _held(record)
    return found


def _privileges_of(grant: str) -> frozenset[str]:
    return ids.READ_PRIVILEGES if grant == "SELECT, SHOW VIEW" else ids.ALL_PRIVILEGES
