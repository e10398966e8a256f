"""What databases contribute to their tenant: what it owns, and the cascade delete of its
databases (their accounts then the database dropped by the kind's own undo steps, then
DELETED and audited); and its suspension: the accounts of its users locked while it is
suspended (no new login), unlocked when it is not."""

from __future__ import annotations

from hostplane.errors import ConflictError
from hostplane.kernel.operations import refuse_if_busy
from hostplane.kernel.outcome import Outcome
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kinds.database.lifecycle import audit, forget_user, move, retire
from hostplane.kinds.database.model import KIND, USER_KIND, DatabaseStatus, Step
from hostplane.kinds.database.repo import databases, users
from hostplane.kinds.database.steps import BY_NAME, provider
from hostplane.kinds.tenant.table import TenantRow
from hostplane.services import Services

S = DatabaseStatus
# Users whose account may exist (a PROVISIONING one reads the suspension itself when made).
LOCKABLE = frozenset({S.ACTIVE, S.PROVISIONING, S.FAILED})


def owned(uow: UnitOfWork, tenant: TenantRow) -> dict[str, list[str]]:
    return {"databases": [d.name for d in databases(uow).of_tenant(tenant.id)]}


def before_teardown(uow: UnitOfWork, tenant: TenantRow, actor: str) -> list[str]:
    """A cascade delete waits (409) while one of the tenant's databases or users is at work."""
    for row in databases(uow).of_tenant(tenant.id):
        refuse_if_busy(uow, KIND, row.name)
        if row.site is None and row.status in (
            S.PENDING,
            S.PROVISIONING,
        ):  # moving in: another's operation
            raise ConflictError(
                f"database {row.name} of tenant {tenant.name!r} is {row.status} (being made "
                "or reassigned to it): wait for it to finish"
            )
        for user in users(uow).of_database(row.id):
            refuse_if_busy(uow, USER_KIND, user.name)
        databases(uow).touch(row)
    return []


def follow_suspension(services: Services, tenant: TenantRow) -> Outcome:
    """Every account of the tenant's users locked while the tenant is to be suspended,
    unlocked when it is not (the reconciler keeps it so: observe.py)."""
    with services.store.unit_of_work() as uow:
        names = [u.name for u in users(uow).of_tenant(tenant.id) if u.status in LOCKABLE]
    if not names:
        return Outcome.UNCHANGED
    suspended = tenant.suspension is not None
    mariadb = provider(services)
    outcomes = [mariadb.lock_account(name, suspended) for name in names]
    return Outcome.UPDATED if Outcome.UPDATED in outcomes else Outcome.UNCHANGED


def teardown(services: Services, tenant: TenantRow, actor: str) -> bool:
    """Every live database of the tenant through DELETING to DELETED, with its users (not
    its sites' databases: each goes with its site, through the site's own steps)."""
    with services.store.unit_of_work() as uow:
        ids = [d.id for d in databases(uow).of_tenant(tenant.id) if d.site is None]
    for database_id in ids:
        _delete(services, database_id, tenant.name, actor)
    return bool(ids)


def _delete(services: Services, database_id: str, tenant: str, actor: str) -> None:
    reason = f"tenant {tenant} deleted"
    with services.store.unit_of_work() as uow:
        row = databases(uow).get(database_id)
        assert row is not None
        if row.status != S.DELETED:
            retire(uow, row, S.DELETING, reason, actor, None)
    for step in (Step.USERS, Step.DATABASE):  # the delete plan's undo, in its order
        undo = BY_NAME[step].undo
        assert undo is not None
        undo(services, row, {})
    with services.store.unit_of_work() as uow:
        current = databases(uow).get(database_id)
        if current is None or current.status == S.DELETED:
            return
        for user in users(uow).of_database(current.id):
            forget_user(uow, user, reason, actor, None)
        move(uow, current, S.DELETED, reason, actor, None)
        audit(uow, actor, current, "database.deleted", f"its tenant {tenant} was deleted", None)
