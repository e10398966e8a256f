"""What a tenant's database and its users are (pure): lifecycles, operations and steps, name
rules, and the MariaDB identifiers derived from (tenant, name).

A database belongs to a tenant; a database user belongs to one database of that tenant and is
granted on exactly that database ("all" or "read"). The MariaDB names are derived so that two
different (tenant, name) pairs never map to one identifier:

    database  tdb_<len(tenant)>_<tenant with - as _>_<name>      (at most 64 characters)
    account   tdu_<len(tenant)>_<tenant with - as _>_<name>      (at most 72 of MariaDB's 80)

The decimal length says where the tenant ends, and a tenant name never holds `_`, so `-` → `_`
inside it is one-to-one: `tdb_1_a_b_c` (tenant a, database b_c) and `tdb_3_a_b_c` (tenant a-b,
database c) differ. The prefixes keep them apart from the sites' `wp_*` names and Hostplane's
own `hostplane_*`; the site database server's admin account is granted on `tdb\\_%` only.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import datetime

from hostplane.errors import ValidationError
from hostplane.kernel.lifecycle import RESOURCE_TRANSITIONS, Lifecycle, ResourceStatus
from hostplane.providers.mariadb.identifiers import ALL_PRIVILEGES, READ_PRIVILEGES

KIND = "database"
USER_KIND = "database-user"
PARENT = "tenant"

DATABASE_PREFIX = "tdb_"
USER_PREFIX = "tdu_"
DATABASE_NAME_MAX = 24  # tdb_32_<32-char tenant>_<24> = 64, MariaDB's limit for a database
USER_NAME_MAX = 32  # tdu_32_<32-char tenant>_<32> = 72, within MariaDB's 80 for a user
MARIADB_DATABASE_MAX = 64
MARIADB_USER_MAX = 80
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
DATABASE_NAME_HINT = (
    f"1-{DATABASE_NAME_MAX} lowercase letters, digits and underscores, starting with a letter"
)
USER_NAME_HINT = (
    f"1-{USER_NAME_MAX} lowercase letters, digits and underscores, starting with a letter"
)
_NAME = re.compile(NAME_PATTERN)
_TENANT = re.compile(r"^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$")


DatabaseStatus = ResourceStatus  # the lifecycle most resources share (kernel)
S = DatabaseStatus
LIFECYCLE = Lifecycle(KIND, RESOURCE_TRANSITIONS)
USER_LIFECYCLE = Lifecycle(USER_KIND, RESOURCE_TRANSITIONS)
DELETABLE = frozenset({S.ACTIVE, S.FAILED})
# What MariaDB must hold (the reconciler repairs users and grants of these).
SERVED = frozenset({S.ACTIVE})


class Privileges(enum.StrEnum):
    ALL = "all"
    READ = "read"


# What each level grants on its one database (MariaDB's names).
GRANTS: Mapping[str, str] = {
    Privileges.ALL: "ALL PRIVILEGES",
    Privileges.READ: "SELECT, SHOW VIEW",
}


class DatabaseOp(enum.StrEnum):
    CREATE = "database-create"
    RETRY = "database-retry"
    DELETE = "database-delete"
    USER_CREATE = "database-user-create"
    USER_DELETE = "database-user-delete"
    USER_UPDATE = "database-user-update"  # privileges changed and/or a new password
    REASSIGN = "database-reassign"  # moved to another tenant (a new name), its users dropped
    USER_REPAIR = "database-user-repair"  # a reconcile putting an account or its grant back


USER_OPS = frozenset(
    {
        DatabaseOp.USER_CREATE,
        DatabaseOp.USER_DELETE,
        DatabaseOp.USER_UPDATE,
        DatabaseOp.USER_REPAIR,
    }
)


class Step(enum.StrEnum):
    DATABASE = "database-database"  # the database on MariaDB, marked as this plane's
    BACKUP = "database-backup"  # a delete with backup, first: a gzipped dump in private/
    USERS = "database-users"  # a delete only: the database's users removed first
    USER = "database-user"  # the account, its password, its grant on exactly its database
    USER_CHANGE = "database-user-change"  # an update: the new privileges and/or password
    # A reassign, in order: the new database (after checking the old one can move), the old
    # tenant's accounts dropped, every table renamed across, the old database (empty) dropped.
    REASSIGN_TARGET = "database-reassign-target"
    REASSIGN_USERS = "database-reassign-users"
    REASSIGN_TABLES = "database-reassign-tables"
    REASSIGN_SOURCE = "database-reassign-source"


def create_plan() -> tuple[Step, ...]:
    return (Step.DATABASE,)


def delete_plan(backup: bool = False) -> tuple[Step, ...]:
    """Undone in this order: (its dump written,) the database's accounts, the database; a
    dump that fails stops the delete before anything is dropped."""
    return ((Step.BACKUP,) if backup else ()) + (Step.USERS, Step.DATABASE)


BACKUP_FOLDER = "private"  # the tenant's folder (of its home) that dumps are written into


def backup_file(name: str, at: datetime) -> str:
    """The dump's file name: the database's MariaDB name and the time of the request."""
    return f"{name}-{at:%Y%m%dT%H%M%SZ}.sql.gz"


def user_plan() -> tuple[Step, ...]:
    return (Step.USER,)


def update_plan() -> tuple[Step, ...]:
    """Its undo puts back the account as the row still has it (privileges, password)."""
    return (Step.USER_CHANGE,)


def reassign_plan() -> tuple[Step, ...]:
    """Undone in reverse: the old database made again, the tables renamed back, the old
    tenant's accounts made again with their sealed passwords, the new database dropped."""
    return (Step.REASSIGN_TARGET, Step.REASSIGN_USERS, Step.REASSIGN_TABLES, Step.REASSIGN_SOURCE)


def validate_name(raw: str, *, what: str = "database name", most: int = DATABASE_NAME_MAX) -> str:
    hint = DATABASE_NAME_HINT if most == DATABASE_NAME_MAX else USER_NAME_HINT
    if not isinstance(raw, str) or not _NAME.fullmatch(raw) or len(raw) > most:
        raise ValidationError(f"{what} {raw!r} is not valid: use {hint}")
    return raw


def validate_user_name(raw: str) -> str:
    return validate_name(raw, what="database user name", most=USER_NAME_MAX)


def validate_privileges(raw: str) -> Privileges:
    try:
        return Privileges(raw)
    except ValueError:
        raise ValidationError(
            f"privileges {raw!r} is not valid: use {' or '.join(p.value for p in Privileges)}"
        ) from None


PASSWORD_MIN = 16
PASSWORD_MAX = 128
PASSWORD_HINT = (
    f"{PASSWORD_MIN}-{PASSWORD_MAX} printable ASCII characters without spaces, with at least "
    "three of: lowercase letters, uppercase letters, digits, other characters; not containing "
    "the user's name, and not one character or a run of characters repeated"
)
_CLASSES = (str.islower, str.isupper, str.isdigit)


def validate_password(raw: str, user: str) -> str:
    """A tenant's own password for a database user, if it is strong enough (else a
    ValidationError saying what to fix: never echoing the password)."""
    problem = None
    if not isinstance(raw, str) or not (PASSWORD_MIN <= len(raw) <= PASSWORD_MAX):
        problem = f"it is {len(raw) if isinstance(raw, str) else 0} characters long"
    elif not all(33 <= ord(c) <= 126 for c in raw):
        problem = "it has spaces, control or non-ASCII characters"
    elif sum(any(f(c) for c in raw) for f in _CLASSES) + any(not c.isalnum() for c in raw) < 3:
        problem = "it has fewer than three kinds of characters"
    elif user.lower() in raw.lower():
        problem = f"it contains the user's name {user!r}"
    elif len(set(raw)) < PASSWORD_MIN // 2:
        problem = "it repeats too few distinct characters"
    if problem:
        raise ValidationError(f"password is too weak ({problem}): use {PASSWORD_HINT}")
    return raw


def _derive(prefix: str, tenant: str, name: str) -> str:
    if not _TENANT.fullmatch(tenant or ""):
        raise ValidationError(f"tenant {tenant!r} is not a tenant name")
    return f"{prefix}{len(tenant)}_{tenant.replace('-', '_')}_{name}"


def database_identifier(tenant: str, name: str) -> str:
    """The MariaDB database of the tenant's database `name`: one-to-one, at most 64 chars."""
    result = _derive(DATABASE_PREFIX, tenant, validate_name(name))
    assert len(result) <= MARIADB_DATABASE_MAX, result
    return result


def user_identifier(tenant: str, name: str) -> str:
    """The MariaDB account of the tenant's database user `name`: one-to-one, at most 80."""
    result = _derive(USER_PREFIX, tenant, validate_user_name(name))
    assert len(result) <= MARIADB_USER_MAX, result
    return result


def parse_identifier(identifier: str) -> tuple[str, str, str] | None:
    """(prefix, tenant, name) of a derived identifier; None when it is not one (the inverse
    of database_identifier / user_identifier, which proves them one-to-one)."""
    for prefix in (DATABASE_PREFIX, USER_PREFIX):
        if not identifier.startswith(prefix):
            continue
        digits, sep, rest = identifier[len(prefix) :].partition("_")
        if not sep or not digits.isdigit() or digits != str(int(digits)):
            return None
        n = int(digits)
        if len(rest) < n + 2 or rest[n] != "_":
            return None
        tenant, name = rest[:n].replace("_", "-"), rest[n + 1 :]
        if not _TENANT.fullmatch(tenant) or not _NAME.fullmatch(name):
            return None
        return prefix, tenant, name
    return None


def privilege_level(granted: frozenset[str]) -> str | None:
    """Which level a set of database-level privileges is ('all', 'read'), None for another
    set (MariaDB's column names without `_priv`, lowercase: select, insert, ...)."""
    if granted == READ_PRIVILEGES:
        return Privileges.READ
    if granted >= ALL_PRIVILEGES and "grant" not in granted:
        return Privileges.ALL
    return None
