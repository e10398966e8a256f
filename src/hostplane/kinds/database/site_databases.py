"""A WordPress site's database as one of its tenant's databases (tenant.SITE_DATABASE_*): the
row is claimed in the site create's unit of work (counted against the plan's `databases`),
follows what the site does with its database, and is released in the unit of work the site
leaves in. The site kind makes and drops the MariaDB database and its `wp_` user; the
accounts the tenant adds on it are this kind's, dropped before the site's database goes."""

from __future__ import annotations

from hostplane.errors import ConflictError
from hostplane.kernel.operations import refuse_if_busy
from hostplane.kernel.outcome import Outcome
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kernel.transition import record_created, transition_to
from hostplane.kinds.database.lifecycle import audit, forget_user, retire
from hostplane.kinds.database.model import KIND, LIFECYCLE, USER_KIND, DatabaseStatus
from hostplane.kinds.database.repo import databases, users
from hostplane.kinds.database.steps import provider
from hostplane.kinds.database.table import DatabaseRow
from hostplane.kinds.tenant.model import Limit
from hostplane.kinds.tenant.requests import check_usage
from hostplane.kinds.tenant.table import TenantRow
from hostplane.services import Services

S = DatabaseStatus


def refuse_site_database(row: DatabaseRow, what: str) -> None:
    """409 for a request that would act on a site's database by itself."""
    if row.site is not None:
        raise ConflictError(f"database {row.name!r} belongs to site {row.site!r}: {what}")


def claim(uow: UnitOfWork, tenant: TenantRow, site: str, database: str, actor: str) -> None:
    """The site's database recorded as one of the tenant's (PENDING); 409 when the plan has
    no room for one more. The caller has touched the tenant row (one create at a time)."""
    existing = databases(uow).get_live(database)
    if existing is not None:
        raise ConflictError(
            f"database {database} exists already (status {existing.status}): a site's database "
            "takes its name; choose another site name"
        )
    refuse_if_busy(uow, KIND, database)
    check_usage(uow, tenant, Limit.DATABASES, databases(uow).count_of_tenant(tenant.id))
    row = databases(uow).add(
        DatabaseRow(tenant_id=tenant.id, label=site, name=database, site=site, status=S.PENDING)
    )
    uow.flush()
    record_created(
        uow, LIFECYCLE, row, reason=f"the database of site {site}", actor=actor, operation_id=None
    )


def follow(
    uow: UnitOfWork,
    database: str,
    status: str,
    reason: str,
    actor: str,
    operation_id: str | None,
) -> None:
    """The row moved to `status` (what the site did with its database). To DELETING: 409
    while one of its users has an operation. DELETED: its users' rows forgotten, audited."""
    row = databases(uow).get_live(database)
    if row is None or row.site is None:
        return
    if status == S.DELETING and row.status != S.DELETING:
        refuse_if_busy(uow, KIND, row.name)
        for user in users(uow).of_database(row.id):
            refuse_if_busy(uow, USER_KIND, user.name)
        databases(uow).touch(row)
    if status == S.DELETED:
        for user in users(uow).of_database(row.id):
            forget_user(uow, user, reason, actor, operation_id)
        retire(uow, row, S.DELETED, reason, actor, operation_id)
        audit(uow, actor, row, "database.deleted", reason, operation_id)
        return
    transition_to(
        uow, LIFECYCLE, row, status, reason=reason, actor=actor, operation_id=operation_id
    )


def release(services: Services, database: str, actor: str) -> Outcome:
    """Every account the tenant added on the site's database dropped, its row forgotten: a
    grant on a dropped database stays in MariaDB and would cover the next one of that name
    (another tenant's site of the same name)."""
    with services.store.unit_of_work() as uow:
        row = databases(uow).get_live(database)
        if row is None or row.site is None:
            return Outcome.ABSENT
        row_id, site = row.id, row.site
        names = [u.name for u in users(uow).of_database(row_id)]
    if not names:
        return Outcome.ABSENT
    outcomes = [provider(services).remove_account(name) for name in names]
    reason = f"its database {database} is removed with site {site}"
    with services.store.unit_of_work() as uow:
        for user in users(uow).of_database(row_id):
            forget_user(uow, user, reason, actor, None)
            audit(uow, actor, user, "database.user.deleted", reason, None)
    return Outcome.DELETED if Outcome.DELETED in outcomes else Outcome.ABSENT
