"""The zones table and the RRsets the database wants in each zone (the platform's SOA and
apex NS are not rows: they come from the settings)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from hostplane.kernel.store.tables import Base, Versioned
from hostplane.kernel.store.types import UTCDateTime, new_id, utcnow


class ZoneRow(Versioned, Base):
    __tablename__ = "zones"
    __mapper_args__ = {"version_id_col": Versioned.version}  # noqa: RUF012

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(253), nullable=False)  # example.com (no dot)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

    __table_args__ = (
        Index(
            "uq_zones_live_name",
            "name",
            unique=True,
            sqlite_where=text("status != 'DELETED'"),
            postgresql_where=text("status != 'DELETED'"),
        ),
    )

    @property
    def scope(self) -> str | None:
        """The tenant its operations are scoped to."""
        return self.tenant_id


class RRsetRow(Base):
    """One RRset the database wants in a zone: recorded only once PowerDNS confirmed it."""

    __tablename__ = "zone_rrsets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    zone_id: Mapped[str] = mapped_column(ForeignKey("zones.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)  # canonical, trailing dot
    type: Mapped[str] = mapped_column(String(10), nullable=False)
    ttl: Mapped[int] = mapped_column(Integer, nullable=False)
    contents: Mapped[list[str]] = mapped_column(JSON, nullable=False)  # PowerDNS syntax
    # The custom domain this RRset is kept for by the platform (its records follow the
    # domain's binding; users cannot change them); None: the tenant's own.
    managed_by: Mapped[str | None] = mapped_column(String(253))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

    __table_args__ = (Index("uq_zone_rrsets_key", "zone_id", "name", "type", unique=True),)
