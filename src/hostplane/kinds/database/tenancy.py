"""What databases contribute to their tenant: what it owns, and the cascade delete of its
databases (their accounts then the database dropped by the kind's own undo steps, then
DELETED and audited). Suspension does not lock accounts yet (issue 17 item 5, later)."""

from __future__ import annotations

from hostplane.kernel.operations import refuse_if_busy
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kinds.database.lifecycle import audit, forget_user, move, retire
from hostplane.kinds.database.model import KIND, USER_KIND, DatabaseStatus, Step
from hostplane.kinds.database.repo import databases, users
from hostplane.kinds.database.steps import BY_NAME
from hostplane.kinds.tenant.table import TenantRow
from hostplane.services import Services

S = DatabaseStatus


def owned(uow: UnitOfWork, tenant: TenantRow) -> dict[str, list[str]]:
    return {"databases": [d.name for d in databases(uow).of_tenant(tenant.id)]}


def before_teardown(uow: UnitOfWork, tenant: TenantRow, actor: str) -> list[str]:
    """A cascade delete waits (409) while one of the tenant's databases or users is at work."""
    for row in databases(uow).of_tenant(tenant.id):
        refuse_if_busy(uow, KIND, row.name)
        for user in users(uow).of_database(row.id):
            refuse_if_busy(uow, USER_KIND, user.name)
        databases(uow).touch(row)
    return []


def teardown(services: Services, tenant: TenantRow, actor: str) -> bool:
    """Every live database of the tenant through DELETING to DELETED, with its users."""
    with services.store.unit_of_work() as uow:
        ids = [d.id for d in databases(uow).of_tenant(tenant.id)]
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
