"""Hostplane's own administrative account on the site database server, made on first use.

When HOSTPLANE_SITE_DB_URL is not set the control plane does not work as root. The first time
it needs the server it logs in as root through the local server's unix socket (root has socket
authentication on Debian; root over TCP to 127.0.0.1 without a password only if the socket
refuses it, with a warning) and makes `hostplane_<plane id>`@`localhost` with a random password
and only the rights it needs:

- CREATE USER: to create, reset and drop the sites' accounts (MariaDB has no narrower right);
- ALL on `wp\\_%`.* WITH GRANT OPTION: create, drop and grant on the sites' databases only;
- ALL on `tdb\\_%`.* WITH GRANT OPTION: the same on the tenants' databases (tenant_dbs.py);
- ALL on `hostplane\\_ledger`.*: its claims (ledger.py);
- SELECT (User, Host) on mysql.user: whether an account exists, and no password hash;
- SELECT on mysql.db: the database-level grants of the accounts it made (the reconciler);
- SELECT (User, Host, Priv) on mysql.global_priv: whether its tenants' accounts are locked
  (a suspended tenant's are). Priv holds password hashes too; CREATE USER already lets this
  account reset any password, so reading them gives it nothing it could not take;
- SELECT on mysql.proc: SHOW CREATE of a tenant's routines, for the dump written before a
  delete with backup (MariaDB 10.11 has no narrower right);
- PROCESS and CONNECTION ADMIN: to find and end the open sessions of an account it locks (a
  suspended tenant's); again nothing CREATE USER does not already allow in effect.

An account made by an older release lacks the later rights: it is granted them again (through
root, as when it was made) the first time this release logs in with it.

The password is sealed in the state database (a SecretSlot) before the account is made, so
processes starting together converge on one password, and a restart logs in with it, without
root. It is never written to a file, a log line or a workflow input.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import pymysql
import structlog

from hostplane.errors import ConflictError, ForeignResourceError
from hostplane.providers.base import PermanentError, ProviderError, TemporaryError
from hostplane.providers.mariadb import identifiers as ids
from hostplane.providers.mariadb import ledger
from hostplane.providers.mariadb.connection import (
    DENIED_CODES,
    TEMPORARY_CODES,
    Account,
    cursor,
    error_code,
    error_message,
    provider_error,
)
from hostplane.providers.mariadb.ownership import Kind, Verdict, judge, refusal

log = structlog.get_logger(__name__)

ADMIN_SECRET = "site_db_admin_password"
ACCOUNT_PREFIX = "hostplane_"
HOST = ids.ACCOUNT_HOST
GRANTS = (
    "GRANT CREATE USER ON *.* TO %s@%s",
    "GRANT ALL PRIVILEGES ON `wp\\_%%`.* TO %s@%s WITH GRANT OPTION",
    "GRANT ALL PRIVILEGES ON `tdb\\_%%`.* TO %s@%s WITH GRANT OPTION",  # tenants' databases
    "GRANT ALL PRIVILEGES ON `hostplane\\_ledger`.* TO %s@%s",  # ledger.LEDGER, escaped
    "GRANT SELECT (User, Host) ON mysql.user TO %s@%s",
    "GRANT SELECT ON mysql.db TO %s@%s",
    "GRANT SELECT (User, Host, Priv) ON mysql.global_priv TO %s@%s",
    "GRANT SELECT ON mysql.proc TO %s@%s",
    "GRANT PROCESS, CONNECTION ADMIN ON *.* TO %s@%s",
)
# A right only the latest GRANTS give, as SHOW GRANTS prints it: its absence is an account
# made by an older release.
LATEST_GRANT = "CONNECTION ADMIN"
# Through a socket that is missing or where nothing listens (PyMySQL reports either).
NO_SOCKET = frozenset({2002, 2003})


def admin_user(plane_id: str) -> str:
    return f"{ACCOUNT_PREFIX}{ids.owner(plane_id)}"


class SecretSlot(Protocol):
    """Where the account's password is kept, sealed (the state database)."""

    def read(self) -> str | None: ...

    def write_new(self, value: str) -> None:
        """Store `value`; ConflictError when another process stored one first."""


def stored_or_new(slot: SecretSlot) -> str:
    """The stored password, or a new one stored first, so a concurrent start reuses it."""
    existing = slot.read()
    if existing is not None:
        return existing
    with contextlib.suppress(ConflictError):  # another process stored one first: use it
        slot.write_new(ids.generate_password())
    value = slot.read()
    if value is None:
        raise PermanentError("the state database did not keep the site database password")
    return value


@dataclass(frozen=True, slots=True)
class Bootstrap:
    """Where the local server is, and whom to ask to make Hostplane's account."""

    socket: str = "/run/mysqld/mysqld.sock"
    tcp_host: str = "127.0.0.1"
    tcp_port: int = 3306
    root_user: str = "root"


class AdminAccount:
    """A Server (connection.py) whose account is Hostplane's own, made on first use."""

    def __init__(self, plane_id: str, slot: SecretSlot, bootstrap: Bootstrap) -> None:
        self.plane_id = ids.owner(plane_id)
        self.user = admin_user(plane_id)
        self._slot = slot
        self._bootstrap = bootstrap
        self._account: Account | None = None
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        return f"MariaDB at {self._bootstrap.socket}"

    def account(self) -> Account:
        with self._lock:
            if self._account is None:
                self._account = self._login_or_make()
            return self._account

    def _login_or_make(self) -> Account:
        password = stored_or_new(self._slot)
        mine = Account(self.user, password, unix_socket=self._bootstrap.socket)
        if logs_in(mine) and has_latest_grants(mine):
            log.info("mariadb.admin.reused", user=self.user, socket=mine.unix_socket)
            return mine
        root, via = root_account(self._bootstrap)
        with cursor(root) as cur:
            cur.execute("SELECT @@socket")
            socket = str(cur.fetchone()[0])
            self._claim(cur, root)
            make_account(cur, self.user, password)
        mine = Account(self.user, password, unix_socket=socket)
        if not logs_in(mine):
            raise PermanentError(
                f"MariaDB at {socket}: Hostplane's account {self.user} was made but cannot log in"
            )
        log.info("mariadb.admin.made", user=self.user, socket=socket, root_via=via)
        return mine

    def _claim(self, cur: Any, root: Account) -> None:
        """Claim the account in the ledger before making it. One that exists and nobody
        claimed is someone else's, even under this plane's name: refused, untouched."""
        ledger.ensure(cur)
        self._refuse_if_foreign(cur, root)
        ledger.claim(cur, self.plane_id, [(Kind.USER, self.user, HOST)])
        self._refuse_if_foreign(cur, root)  # a claim made meanwhile by another plane wins

    def _refuse_if_foreign(self, cur: Any, root: Account) -> None:
        _, found = ledger.look(cur, "", self.user, HOST)
        judgement = judge(found, self.plane_id, adopt_unmarked=False)
        if judgement.verdict is Verdict.FOREIGN:
            raise ForeignResourceError(refusal(judgement, self.plane_id, root.where))


def make_account(cur: Any, user: str, password: str) -> None:
    """Create the account, or reset it to the stored password; grant what it needs."""
    cur.execute("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (user, HOST, password))
    cur.execute("ALTER USER %s@%s IDENTIFIED BY %s", (user, HOST, password))
    for grant in GRANTS:
        cur.execute(grant, (user, HOST))


def has_latest_grants(account: Account) -> bool:
    """Whether the account holds the rights of this release's GRANTS (SHOW GRANTS of itself)."""
    with cursor(account) as cur:
        cur.execute("SHOW GRANTS FOR CURRENT_USER()")
        return any(LATEST_GRANT in str(row[0]) for row in cur.fetchall())


def logs_in(account: Account) -> bool:
    """True when the account logs in; False when it is refused or its socket is missing."""
    try:
        pymysql.connect(**account.connect_args()).close()
    except pymysql.MySQLError as exc:
        code = error_code(exc)
        if code in DENIED_CODES or (account.unix_socket and code in NO_SOCKET):
            return False
        raise provider_error(exc, account, "connect") from None
    return True


def root_account(bootstrap: Bootstrap) -> tuple[Account, str]:
    """Root through the socket; over TCP without a password only if the socket refuses."""
    through_socket = Account(bootstrap.root_user, unix_socket=bootstrap.socket)
    try:
        pymysql.connect(**through_socket.connect_args()).close()
        return through_socket, "socket"
    except pymysql.MySQLError as exc:
        socket_error = exc
    log.warning(
        "mariadb.admin.root_socket_refused",
        socket=bootstrap.socket,
        error=error_message(socket_error),
        next=f"root over TCP at {bootstrap.tcp_host}:{bootstrap.tcp_port}",
    )
    over_tcp = Account(bootstrap.root_user, host=bootstrap.tcp_host, port=bootstrap.tcp_port)
    try:
        pymysql.connect(**over_tcp.connect_args()).close()
    except pymysql.MySQLError as exc:
        raise _bootstrap_error(bootstrap, socket_error, exc) from None
    log.warning(
        "mariadb.admin.root_over_tcp",
        where=over_tcp.where,
        warning="root logs in over TCP without a password, so any local user (a site's too) "
        "can: lock it (see hostctl doctor)",
    )
    return over_tcp, "tcp"


def _bootstrap_error(
    bootstrap: Bootstrap, socket_error: pymysql.MySQLError, tcp_error: pymysql.MySQLError
) -> ProviderError:
    detail = f"socket: {error_message(socket_error)}; tcp: {error_message(tcp_error)}"
    if error_code(socket_error) in TEMPORARY_CODES and error_code(tcp_error) in TEMPORARY_CODES:
        return TemporaryError(
            f"MariaDB is not reachable at {bootstrap.socket} nor at {bootstrap.tcp_host}:"
            f"{bootstrap.tcp_port}: Hostplane's own account cannot be made yet",
            detail=detail,
        )
    return PermanentError(
        f"cannot make Hostplane's own account on MariaDB: {bootstrap.root_user} is refused "
        f"through {bootstrap.socket} and over TCP at {bootstrap.tcp_host}:{bootstrap.tcp_port}. "
        "Start the control plane as the OS user root once (root logs in through the socket on "
        "Debian), or set HOSTPLANE_SITE_DB_URL to an account that may create databases and users",
        detail=detail,
    )


def root_open_over_tcp(host: str, port: int, root_user: str = "root") -> bool | None:
    """Whether root logs in over TCP with no password (then any local user, a site's too,
    can): True; refused: False; nothing answers: None. For `hostctl doctor`."""
    try:
        pymysql.connect(**Account(root_user, host=host, port=port).connect_args()).close()
    except pymysql.MySQLError as exc:
        return False if error_code(exc) in DENIED_CODES else None
    return True
