"""The tenants' tables: tenants, plans, SSH keys and tenant-scoped API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hostplane.kernel.store.tables import Base, Versioned
from hostplane.kernel.store.types import UTCDateTime, new_id, utcnow


class PlanRow(Base):
    __tablename__ = "plans"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(32), nullable=False, unique=True)
    sites: Mapped[int] = mapped_column(Integer, nullable=False)
    databases: Mapped[int] = mapped_column(Integer, nullable=False)
    caches: Mapped[int] = mapped_column(Integer, nullable=False)
    disk_mb: Mapped[int] = mapped_column(Integer, nullable=False)
    php_workers: Mapped[int] = mapped_column(Integer, nullable=False)
    zones: Mapped[int] = mapped_column(Integer, nullable=False)
    cache_memory_mb: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )


class TenantRow(Versioned, Base):
    __tablename__ = "tenants"
    __mapper_args__ = {"version_id_col": Versioned.version}  # noqa: RUF012

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(63), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"), nullable=False, index=True)
    plan: Mapped[PlanRow] = relationship(lazy="joined")
    # A tenant made for a site created without one (or for a site of a store that predates
    # tenants): that site's name.
    made_for: Mapped[str | None] = mapped_column(String(63))
    # Why the tenant is to be suspended (its desired state); None: to be served.
    suspension: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Disk used by its home, measured by the last reconcile (one scan), and when.
    disk_used_mb: Mapped[int | None] = mapped_column(Integer)
    disk_measured_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

    __table_args__ = (
        Index(
            "uq_tenants_live_name",
            "name",
            unique=True,
            sqlite_where=text("status != 'DELETED'"),
            postgresql_where=text("status != 'DELETED'"),
        ),
    )

    @property
    def scope(self) -> str | None:
        """The tenant its operations are scoped to."""
        return self.id


class SshKeyRow(Base):
    __tablename__ = "tenant_ssh_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), nullable=False, index=True)
    algorithm: Mapped[str] = mapped_column(String(64), nullable=False)
    key: Mapped[str] = mapped_column(Text, nullable=False)  # base64 blob
    comment: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)  # SHA256:..., no pad
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (
        Index("uq_tenant_ssh_keys_fingerprint", "tenant_id", "fingerprint", unique=True),
    )


class TokenRow(Base):
    """An API token scoped to one tenant: only its SHA-256 is kept."""

    __tablename__ = "tenant_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    digest: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)  # shown to tell them apart
    created_by: Mapped[str] = mapped_column(String(100), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
