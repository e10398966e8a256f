"""A custom domain's API bodies and the views built from its rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from hostplane.api.schemas import OperationRef, RequestBody, hinted
from hostplane.api.views import operation_ref
from hostplane.kernel.store.tables import OperationRow
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kinds.domain.model import DOMAIN_TEXT_HINT, DOMAIN_TEXT_PATTERN, display_name
from hostplane.kinds.domain.repo import domains
from hostplane.kinds.domain.table import DomainRow
from hostplane.kinds.site.table import SiteRow


class CertificateView(BaseModel):
    source: str = Field(description="acme or uploaded")
    not_after: datetime | None
    fingerprint: str | None = Field(description="SHA-256 of the leaf certificate, hex")


class DomainView(BaseModel):
    name: str = Field(description="the domain in ASCII (punycode) form")
    display: str = Field(description="the domain as people write it")
    site: str
    status: str
    last_checked_at: datetime | None
    last_error: str | None
    dns_found: list[str] | None = Field(description="what the last DNS check found")
    dns_expected: str | None = Field(description="what DNS must say")
    certificate: CertificateView | None
    operation: OperationRef | None = Field(description="the domain's latest operation")


class DomainAdd(RequestBody):
    domain: str = Field(
        min_length=1,
        max_length=300,
        pattern=hinted(DOMAIN_TEXT_PATTERN, DOMAIN_TEXT_HINT),
        description=DOMAIN_TEXT_HINT,
        examples=["www.example.org"],
    )


class DomainAccepted(BaseModel):
    domain: DomainView
    operation: OperationRef | None = Field(description="None when nothing had to be done")


class DomainList(BaseModel):
    items: list[DomainView]


class DnsCheckView(BaseModel):
    domain: str = Field(description="the domain in ASCII (punycode) form")
    display: str = Field(description="the domain as people write it")
    ok: bool
    found: list[str]
    expected: str
    problems: list[str]
    explanation: str


def domain_view(domain: DomainRow, site_name: str, operation: OperationRow | None) -> DomainView:
    certificate = None
    if domain.cert_source:
        certificate = CertificateView(
            source=domain.cert_source,
            not_after=domain.cert_not_after,
            fingerprint=domain.cert_fingerprint,
        )
    return DomainView(
        name=domain.name,
        display=display_name(domain.name),
        site=site_name,
        status=domain.status,
        last_checked_at=domain.last_checked_at,
        last_error=domain.last_error,
        dns_found=list(domain.dns_found) if domain.dns_found is not None else None,
        dns_expected=domain.dns_expected,
        certificate=certificate,
        operation=operation_ref(operation) if operation else None,
    )


def for_site_detail(uow: UnitOfWork, site: SiteRow) -> dict[str, list[dict[str, Any]]]:
    """The site's domains in its detail view (the removed ones too, once it is destroyed)."""
    rows = domains(uow).for_site(site.id, live_only=site.status != "DESTROYED")
    return {"domains": [domain_view(d, site.name, None).model_dump(mode="json") for d in rows]}
