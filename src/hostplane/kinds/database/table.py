"""The tenants' databases and database users. `name` is the MariaDB identifier (unique among
live rows: it is the handle of the API and of the operation slot); `label` the tenant's name.
A WordPress site's database is one of these too (`site` set): counted and listed, never
deleted, retried or moved by itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from hostplane.kernel.store.tables import Base, Versioned
from hostplane.kernel.store.types import UTCDateTime, new_id, utcnow

LIVE_ONLY: dict[str, Any] = {
    "sqlite_where": text("status != 'DELETED'"),
    "postgresql_where": text("status != 'DELETED'"),
}


class DatabaseRow(Versioned, Base):
    __tablename__ = "tenant_databases"
    __mapper_args__ = {"version_id_col": Versioned.version}  # noqa: RUF012

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), nullable=False, index=True)
    # The tenant's name for it (a site's database: the site's name).
    label: Mapped[str] = mapped_column(String(63), nullable=False)
    name: Mapped[str] = mapped_column(String(64), nullable=False)  # the MariaDB database
    # The WordPress site whose database it is (wp_<site>, made and removed by the site kind),
    # or None for a database the tenant made.
    site: Mapped[str | None] = mapped_column(String(63))
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

    __table_args__ = (Index("uq_tenant_databases_live_name", "name", unique=True, **LIVE_ONLY),)

    @property
    def scope(self) -> str | None:
        return self.tenant_id


class DatabaseUserRow(Versioned, Base):
    """An account granted on exactly its database; its password is sealed in the secrets
    table (owner `database-user`, this row's id), needed again to repair a dropped account."""

    __tablename__ = "tenant_database_users"
    __mapper_args__ = {"version_id_col": Versioned.version}  # noqa: RUF012

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), nullable=False, index=True)
    database_id: Mapped[str] = mapped_column(
        ForeignKey("tenant_databases.id"), nullable=False, index=True
    )
    label: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(80), nullable=False)  # the MariaDB account
    privileges: Mapped[str] = mapped_column(String(8), nullable=False)  # all | read
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

    __table_args__ = (
        Index("uq_tenant_database_users_live_name", "name", unique=True, **LIVE_ONLY),
    )

    @property
    def scope(self) -> str | None:
        return self.tenant_id
