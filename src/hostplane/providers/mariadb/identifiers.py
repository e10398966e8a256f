"""Names on the site database server: validated before any query, then quoted.

MariaDB reads `_` and `%` in the database name of a GRANT as wildcards: `GRANT ... ON wp_a_b.*`
also grants on `wp_axb`, another site's database. A grant therefore names its database with
both escaped (`grant_target`).
"""

from __future__ import annotations

import re
import secrets
import string

from hostplane.errors import ValidationError

DATABASE_RE = re.compile(r"^[a-z0-9_]{1,64}$")
USER_RE = re.compile(r"^[a-z0-9_]{1,32}$")
# Sites connect through the server's unix socket, so their accounts are bound to `localhost`.
ACCOUNT_HOST = "localhost"
# A plane id, as it appears in marks, the ledger and the name of Hostplane's own account.
OWNER_RE = re.compile(r"^[a-z0-9]{1,22}$")


def generate_password(length: int = 32) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def database(name: str) -> str:
    """The database name quoted for SQL; ValidationError unless it is [a-z0-9_]{1,64}."""
    if not DATABASE_RE.fullmatch(name):
        raise ValidationError(f"{name!r} is not a valid database name (a-z, 0-9, _; 1-64)")
    return f"`{name}`"


def grant_pattern(name: str) -> str:
    """The database name as a GRANT matches it (and mysql.db stores it), its wildcards `_`
    and `%` escaped (and `\\`): this database only."""
    database(name)
    return name.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")


def grant_target(name: str) -> str:
    """The database name quoted for a GRANT, its wildcards escaped: this database only."""
    return "`" + grant_pattern(name) + "`"


def user(name: str) -> str:
    """The account name, checked ([a-z0-9_]{1,32}); it travels as a query parameter."""
    if not USER_RE.fullmatch(name):
        raise ValidationError(f"{name!r} is not a valid database user name (a-z, 0-9, _; 1-32)")
    return name


def owner(plane_id: str) -> str:
    if not OWNER_RE.fullmatch(plane_id):
        raise ValidationError(f"{plane_id!r} is not a control plane id (a-z, 0-9; 1-22)")
    return plane_id


# Database-level privileges (mysql.db's columns without `_priv`, lowercase) of the two grants a
# tenant's user gets: SELECT, SHOW VIEW and ALL PRIVILEGES (which on MariaDB 10.3+ also holds
# delete_history; never grant, the grant option).
READ_PRIVILEGES = frozenset({"select", "show_view"})
ALL_PRIVILEGES = frozenset(
    {
        "select",
        "insert",
        "update",
        "delete",
        "create",
        "drop",
        "references",
        "index",
        "alter",
        "create_tmp_table",
        "lock_tables",
        "create_view",
        "show_view",
        "create_routine",
        "alter_routine",
        "execute",
        "event",
        "trigger",
    }
)
