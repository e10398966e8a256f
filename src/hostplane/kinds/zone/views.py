"""A zone's API bodies and the views built from its rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, Field

from hostplane.api.schemas import EventView, JsonInt, OperationRef, RequestBody, hinted
from hostplane.api.views import event_views, operation_ref
from hostplane.kernel.store.tables import OperationRow, StatusEventRow
from hostplane.kinds.tenant.model import TENANT_LABEL_PATTERN
from hostplane.kinds.tenant.table import TenantRow
from hostplane.kinds.zone.model import ZONE_NAME_HINT
from hostplane.kinds.zone.table import ZoneRow
from hostplane.providers.powerdns.content import SUPPORTED_TYPES
from hostplane.providers.powerdns.rrsets import MAX_TTL, RRset

# What a URL path may hold: the rules themselves are the model's (422 saying what to fix).
ZONE_PATTERN = hinted(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+\.?$", ZONE_NAME_HINT)
TENANT_PATTERN = hinted(TENANT_LABEL_PATTERN, "1-32 lowercase letters, digits, hyphens")
RECORD_NAME_PATTERN = hinted(
    r"^(@|[A-Za-z0-9*._-]+\.?)$",
    "the record's full name inside the zone (www.example.com), or @ for the zone itself",
)
TYPE_PATTERN = hinted(
    "^(" + "|".join(SUPPORTED_TYPES) + "|" + "|".join(t.lower() for t in SUPPORTED_TYPES) + ")$",
    f"one of {', '.join(SUPPORTED_TYPES)}",
)


class ZoneCreate(RequestBody):
    name: str = Field(
        min_length=1, max_length=254, pattern=ZONE_PATTERN, description=ZONE_NAME_HINT
    )
    tenant: str | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        pattern=TENANT_PATTERN,
        description="the tenant that owns it (a tenant's token: its own, named or not)",
    )


class RRsetBody(RequestBody):
    ttl: JsonInt | None = Field(
        default=None, ge=1, le=MAX_TTL, description="seconds; default HOSTPLANE_DNS_DEFAULT_TTL"
    )
    contents: list[str] = Field(
        min_length=1,
        max_length=100,
        description="every value of the RRset (it is replaced whole); TXT values are the text",
    )


class Accepted(BaseModel):
    operation: OperationRef
    zone: str


class RRsetView(BaseModel):
    name: str
    type: str
    ttl: int
    contents: list[str]
    platform_managed: bool = Field(
        description="kept by the platform, not changeable: the SOA and apex NS (from its DNS "
        "settings) and the records of bound custom domains"
    )
    managed_by: str | None = Field(
        default=None, description="the custom domain this RRset is kept for, if any"
    )


class ZoneSummary(BaseModel):
    name: str
    tenant: str
    status: str
    created_at: datetime
    updated_at: datetime


class ZoneDetail(ZoneSummary):
    last_error: str | None
    rrsets: list[RRsetView]
    operation: OperationRef | None
    events: list[EventView]


class ZonePage(BaseModel):
    items: list[ZoneSummary]
    next: str | None = Field(description="pass as `after` for the next page")


class ZoneExport(BaseModel):
    zone: str
    text: str = Field(description="the zone as a BIND zone file, as PowerDNS exports it")


class RRsetList(BaseModel):
    items: list[RRsetView]


def rrset_view(item: RRset, *, platform: bool, managed_by: str | None = None) -> RRsetView:
    return RRsetView(
        name=item.name,
        type=item.type,
        ttl=item.ttl,
        contents=list(item.contents),
        platform_managed=platform or managed_by is not None,
        managed_by=managed_by,
    )


def zone_summary(zone: ZoneRow, tenant: TenantRow | None) -> ZoneSummary:
    return ZoneSummary(
        name=zone.name,
        tenant=tenant.name if tenant else "?",
        status=zone.status,
        created_at=zone.created_at,
        updated_at=zone.updated_at,
    )


def zone_detail(
    zone: ZoneRow,
    tenant: TenantRow | None,
    rrsets: Sequence[RRsetView],
    events: Sequence[StatusEventRow],
    op: OperationRow | None,
) -> ZoneDetail:
    return ZoneDetail(
        **zone_summary(zone, tenant).model_dump(),
        last_error=zone.last_error,
        rrsets=list(rrsets),
        operation=operation_ref(op) if op else None,
        events=event_views(events),
    )
