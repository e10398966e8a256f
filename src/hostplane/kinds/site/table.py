"""The sites table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hostplane.kernel.store.tables import Base, Versioned
from hostplane.kernel.store.types import UTCDateTime, new_id, utcnow
from hostplane.kinds.tenant.table import TenantRow


class SiteRow(Versioned, Base):
    __tablename__ = "sites"
    __mapper_args__ = {"version_id_col": Versioned.version}  # noqa: RUF012

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(63), nullable=False)
    # Its tenant: the owner of its files and processes (None only for sites destroyed before
    # tenants existed).
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    tenant: Mapped[TenantRow | None] = relationship(lazy="joined")
    type: Mapped[str] = mapped_column(String(16), nullable=False)
    runtime: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    routed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    port: Mapped[int | None] = mapped_column(Integer)
    admin_email: Mapped[str | None] = mapped_column(String(254))
    last_error: Mapped[str | None] = mapped_column(Text)
    # WordPress installed (by its install step, or seen with its tables by a reconcile): from
    # then on its installer is never served, and a lost database is lost data, not a repair.
    installed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why the edge answers the site with a maintenance page (its data was lost), or None.
    maintenance: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

    @property
    def tenant_name(self) -> str | None:
        return self.tenant.name if self.tenant else None

    @property
    def tenant_made_for(self) -> str | None:
        return self.tenant.made_for if self.tenant else None

    @property
    def tenant_suspended(self) -> bool:
        return self.tenant is not None and self.tenant.suspension is not None

    @property
    def php_workers(self) -> int | None:
        return self.tenant.plan.php_workers if self.tenant else None

    __table_args__ = (
        Index(
            "uq_sites_live_name",
            "name",
            unique=True,
            sqlite_where=text("status != 'DESTROYED'"),
            postgresql_where=text("status != 'DESTROYED'"),
        ),
        Index("ix_sites_status_name", "status", "name"),
    )

    @property
    def scope(self) -> str | None:
        """The tenant its operations are scoped to."""
        return self.tenant_id
