"""Request and response bodies of the public API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SiteTypeName = Literal["static", "php", "wordpress"]
RuntimeName = Literal["local", "docker"]
SiteStatusName = Literal["CREATED", "PROVISIONING", "ACTIVE", "DESTROYING", "DESTROYED", "FAILED"]


class SiteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=63, description="a DNS label: a-z, 0-9, '-'")
    type: SiteTypeName = "static"
    runtime: RuntimeName | None = None
    admin_email: str | None = Field(
        default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    )


class OperationRef(BaseModel):
    id: str
    kind: str
    status: str
    url: str


class AdminCredentials(BaseModel):
    user: str
    password: str = Field(description="shown in this answer only; Hostplane keeps no clear copy")
    login_url: str


class Accepted(BaseModel):
    operation: OperationRef
    site: str
    admin: AdminCredentials | None = None


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


class DomainAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: str = Field(min_length=1, max_length=300, examples=["www.example.org"])


class CertificateUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    certificate: str = Field(
        min_length=1, max_length=200_000, description="PEM: the certificate, then its chain"
    )
    key: str = Field(min_length=1, max_length=20_000, description="PEM: its private key")


class DomainAccepted(BaseModel):
    domain: DomainView
    operation: OperationRef | None = Field(description="None when nothing had to be done")


class DomainList(BaseModel):
    items: list[DomainView]


class ServedCertificateView(BaseModel):
    domain: str
    served_fingerprint: str | None = Field(description="what the edge presents for the name")
    stored_fingerprint: str | None = Field(description="what the database says it should")
    healthy: bool
    explanation: str


class EventView(BaseModel):
    from_status: str | None
    to_status: str
    reason: str
    actor: str
    operation_id: str | None
    at: datetime


class SiteSummary(BaseModel):
    name: str
    type: str
    runtime: str
    status: str
    created_at: datetime
    updated_at: datetime


class SiteDetail(SiteSummary):
    hostname: str
    domains: list[DomainView]
    last_error: str | None
    operation: OperationRef | None
    events: list[EventView]


class SitePage(BaseModel):
    items: list[SiteSummary]
    next: str | None = Field(description="pass as `after` for the next page")


class StepView(BaseModel):
    name: str
    phase: str
    status: str
    outcome: str | None
    detail: str | None
    attempt: int
    started_at: datetime
    finished_at: datetime | None
    elapsed_ms: float | None


class OperationView(BaseModel):
    id: str
    kind: str
    status: str
    target_kind: str
    target: str
    actor: str
    error: str | None
    options: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    steps: list[StepView]


class AuditView(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target_kind: str
    target: str
    decision: str
    reason: str
    operation_id: str | None
    snapshot: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditView]
    next: int | None


class RegenerateResult(BaseModel):
    outcome: str
    routes: int


class Health(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]


class ErrorBody(BaseModel):
    error: str
    message: str


class DnsCheckView(BaseModel):
    domain: str = Field(description="the domain in ASCII (punycode) form")
    display: str = Field(description="the domain as people write it")
    ok: bool
    found: list[str]
    expected: str
    problems: list[str]
    explanation: str


class FindingView(BaseModel):
    kind: Literal["missing", "drifted", "orphaned"]
    resource: str = Field(description="<type>:<name>, e.g. container:php_blog")
    site: str | None
    detail: str
    action: str = Field(description="repair, regenerate-edge, regenerate-tunnel or prune")
    result: str | None = Field(default=None, description="what the reconcile did about it")


class DriftView(BaseModel):
    findings: list[FindingView]
    counts: dict[str, int]
    unreachable: dict[str, str] = Field(description="providers that could not be observed")
    provider_calls: int


class ReconcileRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dry_run: bool = False
    prune: bool = False


class ReconcileRunView(BaseModel):
    id: str
    trigger: str
    dry_run: bool
    prune: bool
    started_at: datetime
    finished_at: datetime | None
    duration_ms: float | None
    counts: dict[str, int]
    findings: list[FindingView]
    repairs: int
    errors: list[str]
    operation: OperationRef | None
