"""What each step of a database's and a database user's sagas does, and how it is undone.
A step re-reads what it needs from the state database (the password, sealed) and calls the
MariaDB provider; every action is idempotent."""

from __future__ import annotations

from typing import Any

from hostplane.errors import PermanentError
from hostplane.kernel.outcome import Outcome
from hostplane.kernel.steps import Options, StepDef
from hostplane.kinds.database.model import BACKUP_FOLDER, GRANTS, Step
from hostplane.kinds.database.repo import databases, users
from hostplane.kinds.database.table import DatabaseRow, DatabaseUserRow
from hostplane.kinds.tenant.repo import tenants
from hostplane.kinds.tenant.steps import account_of, accounts
from hostplane.providers.mariadb.tenant_dbs import TenantDatabases
from hostplane.services import Services

SECRET_OWNER = "database-user"
PASSWORD = "password"
# An update's new password, sealed until the update succeeded (then it is PASSWORD).
NEXT_PASSWORD = "password-next"


def provider(services: Services) -> TenantDatabases:
    if services.tenant_databases is None:
        raise PermanentError("this control plane has no tenant database server (MariaDB)")
    return services.tenant_databases


def password(services: Services, user_id: str, name: str = PASSWORD) -> str:
    with services.store.unit_of_work() as uow:
        sealed = uow.secrets.get(SECRET_OWNER, user_id, name)
    if sealed is None:
        raise PermanentError(f"the {name} of database user {user_id} is gone from the store")
    return services.secrets.open(sealed)


def placement(services: Services, user: DatabaseUserRow) -> tuple[str, bool]:
    """The user's database, and whether its account is to be locked (its tenant is to be
    suspended: the tenant's desired suspension, set before its steps run)."""
    with services.store.unit_of_work() as uow:
        row = databases(uow).get(user.database_id)
        assert row is not None
        tenant = tenants(uow).get(user.tenant_id)
        return row.name, tenant is not None and tenant.suspension is not None


def ensure_user(
    services: Services, user: DatabaseUserRow, privileges: str | None = None, secret: str = PASSWORD
) -> Outcome:
    """The account with its stored password (or the sealed secret `secret`), granted on
    exactly its database (`privileges`, else the row's), locked while its tenant is
    suspended; then a login as that account proves it (invariant 6): it works, or it is
    refused as locked."""
    (db, locked), pw = placement(services, user), password(services, user.id, secret)
    mariadb = provider(services)
    grant = GRANTS[privileges or user.privileges]
    outcome = mariadb.ensure_account(user.name, pw, db, grant, locked)
    mariadb.check_account(user.name, pw, db, locked)
    return outcome


def _database(services: Services, row: DatabaseRow, options: Options) -> Outcome:
    return provider(services).ensure_tenant_database(row.name)


def _remove_database(services: Services, row: DatabaseRow, options: Options) -> Outcome:
    return provider(services).remove_tenant_database(row.name)


def _remove_users(services: Services, row: DatabaseRow, options: Options) -> Outcome:
    """Every account of the database dropped (their rows follow when the delete finishes)."""
    with services.store.unit_of_work() as uow:
        names = [u.name for u in users(uow).of_database(row.id)]
    outcomes = [provider(services).remove_account(name) for name in names]
    return Outcome.DELETED if Outcome.DELETED in outcomes else Outcome.ABSENT


def _target(options: Options) -> str:
    """A reassign's new database (its MariaDB name), from the operation's options."""
    return str(options["to"])


def _reassign_target(services: Services, row: DatabaseRow, options: Options) -> Outcome:
    """The old database checked movable (before anything changes), the new one made."""
    mariadb = provider(services)
    mariadb.check_movable(row.name)
    return mariadb.ensure_tenant_database(_target(options))


def _remove_target(services: Services, row: DatabaseRow, options: Options) -> Outcome:
    return provider(services).remove_empty_tenant_database(_target(options))


def _users_of(services: Services, row: DatabaseRow) -> list[DatabaseUserRow]:
    with services.store.unit_of_work() as uow:
        return list(users(uow).of_database(row.id))


def _restore_users(services: Services, row: DatabaseRow, options: Options) -> Outcome:
    """The old tenant's accounts made again with their sealed passwords (a failed reassign)."""
    outcomes = [ensure_user(services, u) for u in _users_of(services, row) if u.status == "ACTIVE"]
    return Outcome.UPDATED if any(o.changed for o in outcomes) else Outcome.UNCHANGED


def _move_tables(services: Services, row: DatabaseRow, options: Options) -> Outcome:
    return provider(services).move_tables(row.name, _target(options))


def _move_back(services: Services, row: DatabaseRow, options: Options) -> Outcome:
    return provider(services).move_tables(_target(options), row.name)


def _remove_source(services: Services, row: DatabaseRow, options: Options) -> Outcome:
    return provider(services).remove_empty_tenant_database(row.name)


def _backup(services: Services, row: DatabaseRow, options: Options) -> Outcome:
    """A delete's dump, gzipped, into the tenant's private/ folder, written as its user."""
    filename = options.get("backup_file")
    if not filename:
        return Outcome.UNCHANGED
    with services.store.unit_of_work() as uow:
        tenant = tenants(uow).get(row.tenant_id)
        assert tenant is not None
        account = account_of(tenant)
    homes = accounts(services)
    uid, gid = homes.ids(account)
    folder = homes.home(account.tenant) / BACKUP_FOLDER
    return provider(services).dump_database(row.name, folder, str(filename), uid, gid)


def _user(services: Services, user: DatabaseUserRow, options: Options) -> Outcome:
    return ensure_user(services, user)


def _change_user(services: Services, user: DatabaseUserRow, options: Options) -> Outcome:
    """An update's desired account: its new privileges, its new password if it has one."""
    secret = NEXT_PASSWORD if options.get("password") else PASSWORD
    return ensure_user(services, user, str(options.get("privileges") or ""), secret)


def _remove_user(services: Services, user: DatabaseUserRow, options: Options) -> Outcome:
    return provider(services).remove_account(user.name)


STEPS: tuple[StepDef[Any], ...] = (
    StepDef(Step.DATABASE, _database, _remove_database, "the database on MariaDB, marked"),
    StepDef(Step.BACKUP, None, _backup, "a dump of the database in the tenant's private/"),
    StepDef(Step.USERS, None, _remove_users, "the database's accounts"),
    StepDef(Step.USER, _user, _remove_user, "the account, granted on exactly its database"),
    # Undone by the account as the row has it: a failed update leaves it as it was.
    StepDef(Step.USER_CHANGE, _change_user, _user, "the account's new privileges or password"),
    StepDef(Step.REASSIGN_TARGET, _reassign_target, _remove_target, "the new database"),
    StepDef(
        Step.REASSIGN_USERS, _remove_users, _restore_users, "the old tenant's accounts dropped"
    ),
    StepDef(Step.REASSIGN_TABLES, _move_tables, _move_back, "every table renamed across"),
    StepDef(Step.REASSIGN_SOURCE, _remove_source, _database, "the old database (empty) dropped"),
)
BY_NAME = {step.name: step for step in STEPS}
