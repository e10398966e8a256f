"""How the control plane reaches the site database server: an account, a cursor, error kinds.

A password lives only in an `Account` (kept out of its repr) and travels only to PyMySQL; no
message built here contains it.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import pymysql
import pymysql.connections

from hostplane.errors import ValidationError
from hostplane.providers.base import PermanentError, ProviderError, TemporaryError

# Server gone, unreachable, busy, or a lock that will clear: worth another try.
TEMPORARY_CODES = frozenset({2002, 2003, 2006, 2013, 1040, 1205, 1213})
# Access denied: a wrong account, or one without the rights it needs.
DENIED_CODES = frozenset({1044, 1045, 1227, 1698})


@dataclass(frozen=True, slots=True)
class Account:
    """One login on the server: through its unix socket, or over TCP."""

    user: str
    password: str = field(default="", repr=False)
    unix_socket: str | None = None
    host: str = "127.0.0.1"
    port: int = 3306

    @classmethod
    def from_url(cls, url: str) -> Account:
        parts = urlsplit(url)
        if parts.scheme not in ("mysql", "mariadb"):
            # The URL may hold a password: name only what is wrong with it.
            raise ValidationError(
                f"site database URL must start with mysql://, not {parts.scheme or '(none)'}://"
            )
        query = parse_qs(parts.query)
        return cls(
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            unix_socket=query["unix_socket"][0] if "unix_socket" in query else None,
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
        )

    @property
    def where(self) -> str:
        if self.unix_socket:
            return f"MariaDB at {self.unix_socket}"
        return f"MariaDB at {self.host}:{self.port}"

    def account(self) -> Account:
        """An account given as it is (a URL) is its own Server."""
        return self

    def connect_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {
            "user": self.user,
            "password": self.password,
            "charset": "utf8mb4",
            "autocommit": True,
            "connect_timeout": 5,
        }
        if self.unix_socket:
            args["unix_socket"] = self.unix_socket
        else:
            args["host"], args["port"] = self.host, self.port
        return args


class Server(Protocol):
    """Where the provider's account comes from: given (an Account), or made on first use
    (admin.AdminAccount)."""

    @property
    def where(self) -> str: ...

    def account(self) -> Account: ...


def error_code(exc: pymysql.MySQLError) -> int | None:
    return exc.args[0] if exc.args and isinstance(exc.args[0], int) else None


def error_message(exc: pymysql.MySQLError) -> str:
    return str(exc.args[1]) if len(exc.args) > 1 else str(exc)


def provider_error(exc: pymysql.MySQLError, account: Account, doing: str) -> ProviderError:
    code, message = error_code(exc), error_message(exc)
    if code in TEMPORARY_CODES:
        return TemporaryError(f"{account.where} is not reachable or busy ({doing})", detail=message)
    if code in DENIED_CODES:
        return PermanentError(
            f"{account.where} refused the control plane's account {account.user}: it needs the "
            "rights to create databases and users (HOSTPLANE_SITE_DB_URL, or unset it to let "
            "Hostplane make its own account)",
            detail=message,
        )
    return PermanentError(f"{account.where} failed to {doing}", detail=message)


class _Connection(pymysql.connections.Connection):  # type: ignore[type-arg]
    """PyMySQL's connection, its default TLS context made once per process. Given no TLS
    option, PyMySQL (1.2) makes one per connection to try TLS ("preferred", verifying
    nothing) and loads the system's CA certificates into it each time: more CPU than a
    reconcile's queries. The same context serves every such connection."""

    _preferred: ssl.SSLContext | None = None

    def _create_ssl_ctx(self, sslp: Any) -> ssl.SSLContext:
        if sslp != {}:
            return super()._create_ssl_ctx(sslp)  # type: ignore[misc,no-any-return]
        if _Connection._preferred is None:
            _Connection._preferred = super()._create_ssl_ctx(sslp)  # type: ignore[misc]
        return _Connection._preferred


@contextmanager
def cursor(account: Account) -> Iterator[Any]:
    """A cursor on a fresh autocommit connection; MySQL errors become provider errors."""
    try:
        conn = _Connection(**account.connect_args())
    except pymysql.MySQLError as exc:
        raise provider_error(exc, account, "connect") from None
    try:
        with conn.cursor() as cur:
            yield cur
    except pymysql.MySQLError as exc:
        raise provider_error(exc, account, "query") from None
    finally:
        conn.close()


def server_socket(account: Account) -> str:
    """The unix socket the server listens on (where sites connect)."""
    with cursor(account) as cur:
        cur.execute("SELECT @@socket")
        return str(cur.fetchone()[0])
