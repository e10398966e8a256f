"""A tenant's API bodies and the views built from its rows (plans, keys and tokens too)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import BaseModel, Field

from hostplane.api.schemas import EventView, JsonInt, OperationRef, RequestBody, hinted
from hostplane.api.views import event_views, operation_ref
from hostplane.kernel.store.tables import OperationRow, StatusEventRow
from hostplane.kinds.tenant.model import (
    LIMIT_MAX,
    PLAN_NAME_HINT,
    PLAN_NAME_PATTERN,
    TENANT_LABEL_PATTERN,
    TENANT_NAME_HINT,
    TENANT_NAME_PATTERN,
    system_user,
)
from hostplane.kinds.tenant.table import PlanRow, SshKeyRow, TenantRow, TokenRow

NAME_PATTERN = hinted(TENANT_NAME_PATTERN, TENANT_NAME_HINT)
LABEL_PATTERN = hinted(TENANT_LABEL_PATTERN, "1-32 lowercase letters, digits, hyphens")
PLAN_PATTERN = hinted(PLAN_NAME_PATTERN, PLAN_NAME_HINT)
Count = Field(ge=0, le=LIMIT_MAX)
# A public key's syntax, as published in the API's schema: one line of an algorithm, a base64
# blob and an optional comment. JSON Schema cannot say the blob decodes to a key of that
# algorithm: openssh.config.parse_public_key does (422 saying why).
KEY_PATTERN = hinted(
    r"^\s*(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521))[ \t]+[A-Za-z0-9+/]+={0,3}"
    r"([ \t][^\x00-\x08\x0a-\x1f]*)?\s*$",
    "one OpenSSH public key line such as 'ssh-ed25519 AAAA... me@laptop' (algorithms: "
    "ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, ssh-ed25519, ssh-rsa; no "
    "options before the key)",
)


class TenantCreate(RequestBody):
    name: str = Field(
        min_length=1, max_length=32, pattern=NAME_PATTERN, description=TENANT_NAME_HINT
    )
    plan: str | None = Field(default=None, min_length=1, max_length=32, pattern=PLAN_PATTERN)


class Suspension(RequestBody):
    reason: str = Field(min_length=1, max_length=500, description="why: kept in the audit log")


class Unsuspension(RequestBody):
    reason: str = Field(default="unsuspended", min_length=1, max_length=500)


class KeyAdd(RequestBody):
    public_key: str = Field(
        min_length=16, max_length=16384, pattern=KEY_PATTERN, examples=["ssh-ed25519 AAAA... me"]
    )


class PlanBody(RequestBody):
    name: str = Field(min_length=1, max_length=32, pattern=PLAN_PATTERN)
    sites: JsonInt = Count
    databases: JsonInt = Count
    caches: JsonInt = Count
    disk_mb: JsonInt = Count
    php_workers: JsonInt = Field(ge=1, le=200)
    zones: JsonInt = Count
    cache_memory_mb: JsonInt = Count


class PlanChange(RequestBody):
    plan: str = Field(min_length=1, max_length=32, pattern=PLAN_PATTERN)


class TokenCreate(RequestBody):
    tenant: str = Field(min_length=1, max_length=63, pattern=LABEL_PATTERN)
    name: str = Field(default="token", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")


class Accepted(BaseModel):
    operation: OperationRef
    tenant: str


class TenantSummary(BaseModel):
    name: str
    status: str
    plan: str
    system_user: str
    made_for: str | None = Field(description="the site this tenant was made for, if any")
    created_at: datetime
    updated_at: datetime


class Usage(BaseModel):
    limit: int
    used: int | None = Field(description="None: not measured yet")
    over: bool


class TenantDetail(TenantSummary):
    home: str | None
    suspension: str | None = Field(description="why it is (to be) suspended")
    last_error: str | None
    usage: dict[str, Usage]
    owns: dict[str, list[str]] = Field(description="what it owns, by kind: its sites, ...")
    disk_measured_at: datetime | None
    operation: OperationRef | None
    events: list[EventView]


class TenantPage(BaseModel):
    items: list[TenantSummary]
    next: str | None = Field(description="pass as `after` for the next page")


class KeyView(BaseModel):
    id: str
    fingerprint: str
    algorithm: str
    comment: str
    created_at: datetime


class KeyList(BaseModel):
    items: list[KeyView]


class PlanView(BaseModel):
    name: str
    sites: int
    databases: int
    caches: int
    disk_mb: int
    php_workers: int
    zones: int
    cache_memory_mb: int
    tenants: int


class PlanList(BaseModel):
    items: list[PlanView]


class TokenView(BaseModel):
    id: str
    name: str
    tenant: str
    prefix: str = Field(description="the token's first characters, to tell them apart")
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


class TokenIssued(TokenView):
    token: str = Field(description="shown in this answer only; Hostplane keeps only a hash")


class TokenList(BaseModel):
    items: list[TokenView]


def tenant_summary(tenant: TenantRow, plan: str) -> TenantSummary:
    return TenantSummary(
        name=tenant.name,
        status=tenant.status,
        plan=plan,
        system_user=system_user(tenant.name),
        made_for=tenant.made_for,
        created_at=tenant.created_at,
        updated_at=tenant.updated_at,
    )


def tenant_detail(
    tenant: TenantRow,
    plan: PlanRow,
    home: str | None,
    usage: Mapping[str, Usage],
    owns: Mapping[str, list[str]],
    events: Sequence[StatusEventRow],
    operation: OperationRow | None,
) -> TenantDetail:
    return TenantDetail(
        **tenant_summary(tenant, plan.name).model_dump(),
        home=home,
        suspension=tenant.suspension,
        last_error=tenant.last_error,
        usage=dict(usage),
        owns=dict(owns),
        disk_measured_at=tenant.disk_measured_at,
        operation=operation_ref(operation) if operation else None,
        events=event_views(events),
    )


def key_view(row: SshKeyRow) -> KeyView:
    return KeyView(
        id=row.id,
        fingerprint=row.fingerprint,
        algorithm=row.algorithm,
        comment=row.comment,
        created_at=row.created_at,
    )


def plan_view(row: PlanRow, tenants: int) -> PlanView:
    return PlanView(
        name=row.name,
        sites=row.sites,
        databases=row.databases,
        caches=row.caches,
        disk_mb=row.disk_mb,
        php_workers=row.php_workers,
        zones=row.zones,
        cache_memory_mb=row.cache_memory_mb,
        tenants=tenants,
    )


def token_view(row: TokenRow, tenant: str) -> TokenView:
    return TokenView(
        id=row.id,
        name=row.name,
        tenant=tenant,
        prefix=row.prefix,
        created_by=row.created_by,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )
