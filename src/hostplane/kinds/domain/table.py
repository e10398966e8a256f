"""The custom domains table; a domain's certificate is described on its row (the PEMs are
sealed secrets of the domain)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from hostplane.kernel.store.tables import Base, Versioned
from hostplane.kernel.store.types import UTCDateTime, new_id, utcnow


class DomainRow(Versioned, Base):
    __tablename__ = "domains"
    __mapper_args__ = {"version_id_col": Versioned.version}  # noqa: RUF012

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(253), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    last_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    # What the last DNS check found and what it expected, for the operator to compare.
    dns_found: Mapped[list[str] | None] = mapped_column(JSON)
    dns_expected: Mapped[str | None] = mapped_column(Text)
    # The HTTP-01 challenge the edge answers while a certificate is being issued.
    acme_token: Mapped[str | None] = mapped_column(String(128))
    acme_validation: Mapped[str | None] = mapped_column(String(256))
    # The certificate itself is a sealed secret of the domain; these describe it.
    cert_source: Mapped[str | None] = mapped_column(String(16))  # acme | uploaded
    cert_not_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cert_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

    __table_args__ = (
        Index(
            "uq_domains_live_name",
            "name",
            unique=True,
            sqlite_where=text("status != 'REMOVED'"),
            postgresql_where=text("status != 'REMOVED'"),
        ),
    )
