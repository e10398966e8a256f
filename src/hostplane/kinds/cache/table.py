"""The tenants' caches and cache users. A cache's `name` is its Redis instance (unique among
live rows: the handle of the API and of the operation slot); `label` the tenant's name for
it. A user's `name` is its handle `<instance>/<user>`; `label` its ACL user name."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from hostplane.kernel.store.tables import Base, Versioned
from hostplane.kernel.store.types import UTCDateTime, new_id, utcnow

LIVE_ONLY: dict[str, Any] = {
    "sqlite_where": text("status != 'DELETED'"),
    "postgresql_where": text("status != 'DELETED'"),
}


class CacheRow(Versioned, Base):
    """An instance's admin password is sealed in the secrets table (owner `cache-instance`,
    the instance name): the provider asks for it to start and reach the instance."""

    __tablename__ = "tenant_caches"
    __mapper_args__ = {"version_id_col": Versioned.version}  # noqa: RUF012

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), nullable=False, index=True)
    label: Mapped[str] = mapped_column(String(32), nullable=False)  # the tenant's name for it
    name: Mapped[str] = mapped_column(String(63), nullable=False)  # the Redis instance
    memory_mb: Mapped[int] = mapped_column(Integer, nullable=False)
    persistence: Mapped[str] = mapped_column(String(8), nullable=False)  # none | aof
    port: Mapped[int | None] = mapped_column(Integer)  # on 127.0.0.1; None: the socket only
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

    __table_args__ = (
        Index("uq_tenant_caches_live_name", "name", unique=True, **LIVE_ONLY),
        # Two live caches never share a loopback port, even when two requests race.
        Index("uq_tenant_caches_live_port", "port", unique=True, **LIVE_ONLY),
    )

    @property
    def scope(self) -> str | None:
        return self.tenant_id


class CacheUserRow(Versioned, Base):
    """An ACL user of one cache, allowed only its key prefix; its password is sealed in the
    secrets table (owner `cache-user`, this row's id), needed again to put the user back."""

    __tablename__ = "tenant_cache_users"
    __mapper_args__ = {"version_id_col": Versioned.version}  # noqa: RUF012

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), nullable=False, index=True)
    cache_id: Mapped[str] = mapped_column(
        ForeignKey("tenant_caches.id"), nullable=False, index=True
    )
    label: Mapped[str] = mapped_column(String(32), nullable=False)  # the ACL user
    name: Mapped[str] = mapped_column(String(100), nullable=False)  # <instance>/<user>
    key_prefix: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

    __table_args__ = (Index("uq_tenant_cache_users_live_name", "name", unique=True, **LIVE_ONLY),)

    @property
    def scope(self) -> str | None:
        return self.tenant_id
