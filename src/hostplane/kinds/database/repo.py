"""The repositories of tenants' databases and database users."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from hostplane.errors import NotFoundError
from hostplane.kernel.store import counts
from hostplane.kernel.store.tables import OperationRow
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kinds.database.model import USER_OPS, DatabaseStatus
from hostplane.kinds.database.table import DatabaseRow, DatabaseUserRow

DELETED = DatabaseStatus.DELETED


class DatabaseRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: DatabaseRow) -> DatabaseRow:
        self.session.add(row)
        return row

    def get(self, database_id: str) -> DatabaseRow | None:
        return self.session.get(DatabaseRow, database_id)

    def get_live(self, name: str) -> DatabaseRow | None:
        stmt = sa.select(DatabaseRow).where(DatabaseRow.name == name, DatabaseRow.status != DELETED)
        return self.session.scalars(stmt).one_or_none()

    def live_or_404(self, name: str, scope: str | None = None) -> DatabaseRow:
        """The live database of that MariaDB name; with `scope` (a tenant's token) only that
        tenant's: any other is not found, as if it did not exist."""
        row = self.get_live(name)
        if row is None or (scope is not None and row.tenant_id != scope):
            raise NotFoundError(f"no database is named {name!r}")
        return row

    def get_latest(self, name: str) -> DatabaseRow | None:
        live = self.get_live(name)
        if live is not None:
            return live
        stmt = (
            sa.select(DatabaseRow)
            .where(DatabaseRow.name == name)
            .order_by(DatabaseRow.updated_at.desc())
            .limit(1)
        )
        return self.session.scalars(stmt).first()

    def count_of_tenant(self, tenant_id: str) -> int:
        """How many live ones the tenant has (what its plan's limit counts)."""
        return counts.live_of_tenant(self.session, DatabaseRow, tenant_id, DELETED)

    def of_tenant(self, tenant_id: str) -> Sequence[DatabaseRow]:
        stmt = sa.select(DatabaseRow).where(
            DatabaseRow.tenant_id == tenant_id, DatabaseRow.status != DELETED
        )
        return self.session.scalars(stmt.order_by(DatabaseRow.name)).all()

    def live(self) -> Sequence[DatabaseRow]:
        stmt = sa.select(DatabaseRow).where(DatabaseRow.status != DELETED)
        return self.session.scalars(stmt.order_by(DatabaseRow.name)).all()

    def touch(self, row: DatabaseRow) -> None:
        row.version += 1


class DatabaseUserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: DatabaseUserRow) -> DatabaseUserRow:
        self.session.add(row)
        return row

    def get(self, user_id: str) -> DatabaseUserRow | None:
        return self.session.get(DatabaseUserRow, user_id)

    def get_live(self, name: str) -> DatabaseUserRow | None:
        stmt = sa.select(DatabaseUserRow).where(
            DatabaseUserRow.name == name, DatabaseUserRow.status != DELETED
        )
        return self.session.scalars(stmt).one_or_none()

    def of_database(self, database_id: str) -> Sequence[DatabaseUserRow]:
        stmt = sa.select(DatabaseUserRow).where(
            DatabaseUserRow.database_id == database_id, DatabaseUserRow.status != DELETED
        )
        return self.session.scalars(stmt.order_by(DatabaseUserRow.name)).all()

    def of_tenant(self, tenant_id: str) -> Sequence[DatabaseUserRow]:
        stmt = sa.select(DatabaseUserRow).where(
            DatabaseUserRow.tenant_id == tenant_id, DatabaseUserRow.status != DELETED
        )
        return self.session.scalars(stmt.order_by(DatabaseUserRow.name)).all()

    def live_in(self, database_id: str, label: str) -> DatabaseUserRow | None:
        stmt = sa.select(DatabaseUserRow).where(
            DatabaseUserRow.database_id == database_id,
            DatabaseUserRow.label == label,
            DatabaseUserRow.status != DELETED,
        )
        return self.session.scalars(stmt).one_or_none()

    def live(self) -> Sequence[DatabaseUserRow]:
        stmt = sa.select(DatabaseUserRow).where(DatabaseUserRow.status != DELETED)
        return self.session.scalars(stmt.order_by(DatabaseUserRow.name)).all()

    def touch(self, row: DatabaseUserRow) -> None:
        row.version += 1


def databases(uow: UnitOfWork) -> DatabaseRepository:
    return uow.repo(DatabaseRepository)


def users(uow: UnitOfWork) -> DatabaseUserRepository:
    return uow.repo(DatabaseUserRepository)


def load_target(uow: UnitOfWork, op: OperationRow) -> DatabaseRow | DatabaseUserRow:
    """The database, or the database user, an operation works on."""
    by_id = users(uow).get if op.kind in USER_OPS else databases(uow).get
    row: DatabaseRow | DatabaseUserRow | None = by_id(op.target_id)
    if row is None:
        raise NotFoundError(f"{op.target_kind} {op.target_id} is gone from the state database")
    return row
