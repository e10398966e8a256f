"""A site's API bodies and the views built from its rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Discriminator, Field, Tag

from hostplane.api.schemas import (
    EXTRA_HINTS,
    UNION_TAGS,
    EventView,
    OperationRef,
    RequestBody,
    hinted,
)
from hostplane.api.views import event_views, operation_ref
from hostplane.kernel.store.tables import OperationRow, StatusEventRow
from hostplane.kinds.site.model import (
    ADMIN_EMAIL_HINT,
    ADMIN_EMAIL_LENGTH,
    ADMIN_EMAIL_PATTERN,
    SITE_LABEL_PATTERN,
    SITE_NAME_HINT,
    SITE_NAME_PATTERN,
    SiteSummaryFields,
)
from hostplane.kinds.site.table import SiteRow

SiteTypeName = Literal["static", "php", "wordpress"]

RuntimeName = Literal["local", "docker"]

SiteStatusName = Literal["CREATED", "PROVISIONING", "ACTIVE", "DESTROYING", "DESTROYED", "FAILED"]


NAME_PATTERN = hinted(SITE_NAME_PATTERN, SITE_NAME_HINT)
LABEL_PATTERN = hinted(SITE_LABEL_PATTERN, "a DNS label: 1-63 lowercase letters, digits, hyphens")
EMAIL_PATTERN = hinted(ADMIN_EMAIL_PATTERN, ADMIN_EMAIL_HINT)


class _SiteCreate(RequestBody):
    name: str = Field(min_length=1, max_length=63, pattern=NAME_PATTERN, description=SITE_NAME_HINT)
    tenant: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        pattern=LABEL_PATTERN,
        description="its owner; none: the tenant named after the site (made if missing)",
    )
    runtime: RuntimeName | None = None


class PlainSiteCreate(_SiteCreate):
    """A static or PHP site (static when no type is given)."""

    type: Literal["static", "php"] = "static"

    @property
    def admin_email(self) -> None:
        return None


class WordPressSiteCreate(_SiteCreate):
    """A WordPress site; with an admin email, Hostplane finishes its install."""

    type: Literal["wordpress"]
    admin_email: str | None = Field(
        default=None,
        min_length=ADMIN_EMAIL_LENGTH[0],
        max_length=ADMIN_EMAIL_LENGTH[1],
        pattern=EMAIL_PATTERN,
        description=ADMIN_EMAIL_HINT,
    )


def _site_create_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return "wordpress" if kind == "wordpress" else "plain"


# One body per type, so that the schema itself says an admin email is for WordPress only.
SiteCreate = Annotated[
    Annotated[PlainSiteCreate, Tag("plain")] | Annotated[WordPressSiteCreate, Tag("wordpress")],
    Discriminator(_site_create_tag),
]
UNION_TAGS.update({"plain", "wordpress"})
EXTRA_HINTS["admin_email"] = "only a WordPress site takes an admin email (type wordpress)"


class AdminCredentials(BaseModel):
    user: str
    password: str = Field(description="shown in this answer only; Hostplane keeps no clear copy")
    login_url: str


class Accepted(BaseModel):
    operation: OperationRef
    site: str
    admin: AdminCredentials | None = None


class SiteSummary(BaseModel):
    name: str
    tenant: str | None
    type: str
    runtime: str
    status: str
    created_at: datetime
    updated_at: datetime


class SiteDetail(SiteSummary):
    hostname: str
    domains: list[dict[str, Any]] = Field(
        description="the site's custom domains, each as GET /v1/sites/{name}/domains/{domain}"
    )
    last_error: str | None
    operation: OperationRef | None
    events: list[EventView]


class SitePage(BaseModel):
    items: list[SiteSummary]
    next: str | None = Field(description="pass as `after` for the next page")


class RegenerateResult(BaseModel):
    outcome: str
    routes: int


def site_summary(site: SiteSummaryFields) -> SiteSummary:
    return SiteSummary(
        name=site.name,
        tenant=site.tenant_name,
        type=site.type,
        runtime=site.runtime,
        status=site.status,
        created_at=site.created_at,
        updated_at=site.updated_at,
    )


def site_detail(
    site: SiteRow,
    hostname: str,
    children: Mapping[str, list[dict[str, Any]]],
    events: Sequence[StatusEventRow],
    operation: OperationRow | None,
) -> SiteDetail:
    return SiteDetail(
        **site_summary(site).model_dump(),
        hostname=hostname,
        domains=list(children.get("domains", [])),
        last_error=site.last_error,
        operation=operation_ref(operation) if operation else None,
        events=event_views(events),
    )
