"""Per-site MariaDB databases and users, created and removed idempotently, and only this
plane's.

Each site gets database `wp_<site>` and user `wp_<site>`@`localhost` with a random password and
privileges on that one database only. Sites connect through the server's unix socket, so the
account is bound to `localhost`. Identifiers are validated and quoted; passwords travel only as
query parameters and never appear in a message or a log line.

Every database this plane creates carries its mark (`COMMENT 'hostplane:<plane id>'`), and the
ledger on the server (ledger.py) holds its claims on accounts and on names it is creating. A
database or account that another plane holds, or that nobody marked, is refused by `ensure_*`
(ForeignResourceError), left alone by `remove_*` (reported ABSENT, with a warning: from this
plane's side there is nothing of its own to remove, and a destroy or a compensation must be able
to finish), and never listed by `observe` (see ownership.py for the rules).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pymysql
import structlog

from hostplane.errors import ForeignResourceError
from hostplane.providers.base import Outcome, PermanentError
from hostplane.providers.mariadb import identifiers as ids
from hostplane.providers.mariadb import ledger
from hostplane.providers.mariadb.connection import (
    Account,
    Server,
    cursor,
    error_code,
    error_message,
    server_socket,
)
from hostplane.providers.mariadb.identifiers import ACCOUNT_HOST, generate_password
from hostplane.providers.mariadb.ownership import Judgement, Kind, Verdict, judge, mark, refusal

__all__ = ["MariaDBProvider", "generate_password"]

log = structlog.get_logger(__name__)

DB_EXISTS, USER_EXISTS = 1007, 1396


class MariaDBProvider:
    def __init__(self, server: str | Server, *, owner: str, adopt_unmarked: bool = False) -> None:
        """`server`: a mysql:// URL of the account to use, or a Server that makes one on first
        use. `owner`: this plane's id, the mark on what it creates. `adopt_unmarked`: only for a
        store that predates plane ids: an unmarked `wp_*` database or account counts as this
        plane's, and is marked when it is ensured."""
        self._server: Server = Account.from_url(server) if isinstance(server, str) else server
        self.owner = ids.owner(owner)
        self.adopt_unmarked = adopt_unmarked
        self._mark = mark(self.owner)
        self._socket: str | None = None
        self._ledger_ready = False
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        return self._server.where

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        with cursor(self._server.account()) as cur:
            if not self._ledger_ready:
                ledger.ensure(cur)  # once per process: Hostplane's own bookkeeping
                self._ledger_ready = True
            yield cur

    def socket_path(self) -> str:
        if self._socket is None:
            with self._lock:
                self._socket = self._socket or server_socket(self._server.account())
        return self._socket

    def _judge(self, cur: Any, name: str, account: str) -> tuple[Judgement, Judgement]:
        db, user = ledger.look(cur, name, account, ACCOUNT_HOST)
        return (
            judge(db, self.owner, self.adopt_unmarked),
            judge(user, self.owner, self.adopt_unmarked),
        )

    def _refuse_foreign(self, *judgements: Judgement) -> None:
        for judgement in judgements:
            if judgement.verdict is Verdict.FOREIGN:
                reason = refusal(judgement, self.owner, self.where)
                log.warning(
                    "mariadb.refused",
                    resource=judgement.found.label,
                    holder=judgement.holder,
                    owner=self.owner,
                )
                raise ForeignResourceError(reason)

    def claimable(self, name: str, user: str) -> str | None:
        """Read-only, one query: None when this plane may create (or already has) database
        `name` and account `user`; else why not, naming the resource and its owner."""
        ids.database(name)
        with self._cursor() as cur:
            judgements = self._judge(cur, name, ids.user(user))
        for judgement in judgements:
            if judgement.verdict is Verdict.FOREIGN:
                return refusal(judgement, self.owner, self.where)
        return None

    def ensure_database(self, name: str, user: str, password: str) -> Outcome:
        """Claim both names in the ledger, then create what is missing: a crash between the
        claim and the create converges on the next run. Anything foreign is refused before this
        plane claims or changes anything."""
        db_sql, user = ids.database(name), ids.user(user)
        with self._cursor() as cur:
            first = self._judge(cur, name, user)
            self._refuse_foreign(*first)
            ledger.claim(
                cur, self.owner, [(Kind.DATABASE, name, ""), (Kind.USER, user, ACCOUNT_HOST)]
            )
            db, account = self._judge(cur, name, user)  # another plane may have claimed first
            self._refuse_foreign(db, account)
            self._make_database(cur, db, db_sql)
            self._make_user(cur, account, password)
            cur.execute(
                f"GRANT ALL PRIVILEGES ON {ids.grant_target(name)}.* TO %s@%s",
                (user, ACCOUNT_HOST),
            )
        for judged in first:
            if judged.verdict is Verdict.ADOPT:
                log.info("mariadb.adopted", resource=judged.found.label, owner=self.owner)
        verdicts = {j.verdict for j in first}
        outcome = (
            Outcome.CREATED
            if Verdict.CREATE in verdicts
            else Outcome.UPDATED
            if Verdict.ADOPT in verdicts
            else Outcome.UNCHANGED
        )
        log.info("mariadb.ensured", database=name, user=user, outcome=outcome.value)
        return outcome

    def _make_database(self, cur: Any, db: Judgement, db_sql: str) -> None:
        if db.verdict is Verdict.CREATE:
            try:
                cur.execute(
                    f"CREATE DATABASE {db_sql} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                    " COMMENT %s",
                    (self._mark,),
                )
            except pymysql.MySQLError as exc:
                self._raise_if_appeared(exc, DB_EXISTS, db)
        elif db.verdict is Verdict.ADOPT:
            cur.execute(f"ALTER DATABASE {db_sql} COMMENT %s", (self._mark,))

    def _make_user(self, cur: Any, account: Judgement, password: str) -> None:
        name = account.found.name
        if account.verdict is Verdict.CREATE:
            try:
                cur.execute("CREATE USER %s@%s IDENTIFIED BY %s", (name, ACCOUNT_HOST, password))
            except pymysql.MySQLError as exc:
                self._raise_if_appeared(exc, USER_EXISTS, account)
            return
        # Ours: a retry converges on the stored password even if an earlier run set another.
        cur.execute("ALTER USER %s@%s IDENTIFIED BY %s", (name, ACCOUNT_HOST, password))

    def _raise_if_appeared(self, exc: pymysql.MySQLError, code: int, judged: Judgement) -> None:
        """Someone made the resource between this plane's look and its create: not ours."""
        if error_code(exc) != code:
            raise exc
        raise ForeignResourceError(
            f"{judged.found.label} on {self.where} appeared while control plane {self.owner} "
            "was creating it: someone else made it; it is left as it is",
            detail=error_message(exc),
        )

    def remove_database(self, name: str, user: str) -> Outcome:
        ids.database(name)
        return self._remove(name, ids.user(user))

    def remove_database_only(self, name: str) -> Outcome:
        ids.database(name)
        return self._remove(name, None)

    def remove_user(self, user: str) -> Outcome:
        return self._remove(None, ids.user(user))

    def _remove(self, name: str | None, user: str | None) -> Outcome:
        """Drop what is this plane's, then release its claims (in that order, so a crash in
        between leaves a claim to finish with, never an unclaimed leftover)."""
        with self._cursor() as cur:
            db, account = self._judge(cur, name or "", user or "")
            wanted = [j for j, asked in ((db, name), (account, user)) if asked]
            dropped = [j for j in wanted if j.ours]
            for judgement in dropped:
                self._drop(cur, judgement)
            for judgement in wanted:
                if judgement.verdict is Verdict.FOREIGN:
                    log.warning(
                        "mariadb.left_alone",
                        resource=judgement.found.label,
                        holder=judgement.holder,
                        owner=self.owner,
                        reason="not this control plane's",
                    )
            ledger.release(
                cur, self.owner, [(j.found.kind, j.found.name, j.found.host) for j in wanted]
            )
        outcome = Outcome.DELETED if dropped else Outcome.ABSENT
        log.info("mariadb.removed", database=name, user=user, outcome=outcome.value)
        return outcome

    def _drop(self, cur: Any, judgement: Judgement) -> None:
        found = judgement.found
        if found.kind is Kind.DATABASE:
            cur.execute(f"DROP DATABASE IF EXISTS {ids.database(found.name)}")
        else:
            cur.execute("DROP USER IF EXISTS %s@%s", (found.name, found.host))

    def check_login(self, user: str, password: str, database: str) -> None:
        """Log in as the site would (through the socket) and run a query in its database."""
        ids.database(database)
        try:
            conn = pymysql.connect(
                unix_socket=self.socket_path(),
                user=ids.user(user),
                password=password,
                database=database,
                connect_timeout=5,
            )
        except pymysql.MySQLError as exc:
            raise PermanentError(
                f"user {user} cannot use database {database} on {self.where}",
                detail=error_message(exc),
            ) from None
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
        finally:
            conn.close()

    def observe(self, prefix: str = "wp_") -> tuple[frozenset[str], frozenset[str]]:
        """This plane's databases and users named with `prefix`, in one query: the databases
        carrying its mark, the accounts it claims that exist. Unmarked ones are never listed,
        not even with `adopt_unmarked`: one becomes this plane's only when a step ensures it
        (a live site's), never by being pruned as an orphan."""
        with self._cursor() as cur:
            rows = ledger.observe(cur, self.owner, self._mark, prefix)
        return (
            frozenset(name for kind, name in rows if kind == "database"),
            frozenset(name for kind, name in rows if kind == "user"),
        )

    def populated(self, prefix: str = "wp_") -> frozenset[str]:
        """Which of this plane's databases named with `prefix` hold at least one table, in one
        query: an installed application's database that is empty has lost its data."""
        with self._cursor() as cur:
            return self._populated(cur, prefix)

    def inventory(
        self, prefix: str = "wp_"
    ) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
        """observe() and populated() on one connection (each connection costs more CPU than
        both queries: PyMySQL makes a TLS context for it)."""
        with self._cursor() as cur:
            rows = ledger.observe(cur, self.owner, self._mark, prefix)
            populated = self._populated(cur, prefix)
        return (
            frozenset(name for kind, name in rows if kind == "database"),
            frozenset(name for kind, name in rows if kind == "user"),
            populated,
        )

    def _populated(self, cur: Any, prefix: str) -> frozenset[str]:
        like = prefix.replace("_", "\\_") + "%"
        cur.execute(
            "SELECT s.SCHEMA_NAME FROM information_schema.SCHEMATA s"
            " WHERE s.SCHEMA_NAME LIKE %s AND s.SCHEMA_COMMENT = %s AND EXISTS"
            " (SELECT 1 FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = s.SCHEMA_NAME)",
            (like, self._mark),
        )
        return frozenset(str(row[0]) for row in cur.fetchall())
