"""Zones: create, list, show, delete, retry, export; their records (whole RRsets)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import PlainTextResponse

from hostplane.api.deps import (
    CallerDep,
    IdempotencyKey,
    ServicesDep,
    SubmitterDep,
    accepted,
    errors,
    retrying,
)
from hostplane.api.schemas import Caller
from hostplane.errors import ConflictError, NotFoundError, ValidationError
from hostplane.kernel.operations import Submitted
from hostplane.kinds.tenant.repo import tenants
from hostplane.kinds.zone import requests, views
from hostplane.kinds.zone.model import KIND, apex
from hostplane.kinds.zone.repo import as_rrset, records, zones
from hostplane.kinds.zone.steps import provider
from hostplane.services import Services

router = APIRouter(prefix="/v1/zones", tags=["zones"])

ZoneName = Annotated[str, Path(min_length=1, max_length=254, pattern=views.ZONE_PATTERN)]
RecordName = Annotated[str, Path(min_length=1, max_length=254, pattern=views.RECORD_NAME_PATTERN)]
RecordType = Annotated[str, Path(min_length=1, max_length=5, pattern=views.TYPE_PATTERN)]
ERRORS = errors(401, 403, 404, 409, 422)


def _name(raw: str) -> str:
    return raw.strip().lower().rstrip(".")


def _accepted(
    response: Response, services: Services, submitter: SubmitterDep, sub: Submitted
) -> views.Accepted:
    return views.Accepted(operation=accepted(response, services, submitter, sub), zone=sub.target)


def _tenant_of_request(caller: Caller, tenant: str | None) -> str:
    """A tenant's token names its own tenant (another is not found); the operator names one."""
    if caller.scope is not None:
        if tenant is not None and tenant != caller.scope_name:
            raise NotFoundError(f"no tenant is named {tenant!r}")
        assert caller.scope_name is not None
        return caller.scope_name
    if tenant is None:
        raise ValidationError("tenant: name the tenant that owns the zone")
    return tenant


@router.post("", status_code=202, responses=ERRORS)
def create_zone(
    body: views.ZoneCreate,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> views.Accepted:
    """A zone of `tenant` on PowerDNS, with the platform's SOA and NS, marked as this plane's.
    409 when it exists, or when another tenant's zone is that name, above it or under it."""
    tenant = _tenant_of_request(caller, body.tenant)
    sub = retrying(
        idempotency_key,
        lambda: requests.create_zone(
            services,
            name=body.name,
            tenant=tenant,
            actor=caller.actor,
            idempotency_key=idempotency_key,
            scope=caller.scope,
        ),
    )
    return _accepted(response, services, submitter, sub)


@router.get("", responses=ERRORS)
def list_zones(
    services: ServicesDep,
    caller: CallerDep,
    status: Annotated[str | None, Query(max_length=16, pattern=r"^[A-Z]+$")] = None,
    after: Annotated[str | None, Query(max_length=254)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    tenant: Annotated[str | None, Query(max_length=63)] = None,
) -> views.ZonePage:
    """One page by name; `tenant`: only that tenant's (a tenant's token sees only its own)."""
    with services.store.unit_of_work() as uow:
        wanted = tenant if caller.scope is None else _tenant_of_request(caller, tenant)
        tenant_id = tenants(uow).live_or_404(wanted).id if wanted else None
        rows = zones(uow).page(status=status, after=after, limit=limit + 1, tenant_id=tenant_id)
        items = [views.zone_summary(z, tenants(uow).get(z.tenant_id)) for z in rows[:limit]]
    more = len(rows) > limit
    return views.ZonePage(items=items, next=items[-1].name if more and items else None)


def _rrsets(services: Services, zone: str, zone_id: str) -> list[views.RRsetView]:
    settings = services.settings
    platform = apex(
        zone,
        settings.zone_nameservers,
        settings.zone_hostmaster,
        settings.dns_default_ttl,
        settings.dns_negative_ttl,
    )
    with services.store.unit_of_work() as uow:
        own = [
            views.rrset_view(as_rrset(row), platform=False, managed_by=row.managed_by)
            for row in records(uow).of(zone_id)
        ]
    return [views.rrset_view(i, platform=True) for i in platform] + own


@router.get("/{zone}", responses=ERRORS)
def show_zone(zone: ZoneName, services: ServicesDep, caller: CallerDep) -> views.ZoneDetail:
    """Status, its RRsets (the platform's SOA and NS marked), last error, recent events."""
    with services.store.unit_of_work() as uow:
        row = zones(uow).live_or_404(_name(zone), caller.scope)
        tenant = tenants(uow).get(row.tenant_id)
        events = list(uow.events.recent(KIND, row.id, limit=20))
        op = uow.operations.latest_for(row.id)
        rrsets = _rrsets(services, row.name, row.id)
        return views.zone_detail(row, tenant, rrsets, events, op)


@router.delete("/{zone}", status_code=202, responses=ERRORS)
def delete_zone(
    zone: ZoneName,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
    force: bool = False,
) -> views.Accepted:
    """The zone and every record in it removed from PowerDNS; audited (refusals too). 409
    while it keeps the records of bound custom domains, unless `force`."""
    name = _name(zone)
    try:
        sub = requests.delete_zone(
            services,
            name=name,
            actor=caller.actor,
            scope=caller.scope,
            idempotency_key=idempotency_key,
            force=force,
        )
    except (ConflictError, ValidationError) as exc:
        requests.audit_refusal(
            services, actor=caller.actor, name=name, reason=str(exc), scope=caller.scope
        )
        raise
    return _accepted(response, services, submitter, sub)


@router.post("/{zone}/retry", status_code=202, responses=ERRORS)
def retry_zone(
    zone: ZoneName,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    caller: CallerDep,
) -> views.Accepted:
    sub = requests.retry_zone(services, name=_name(zone), actor=caller.actor, scope=caller.scope)
    return _accepted(response, services, submitter, sub)


@router.get(
    "/{zone}/export",
    response_model=None,
    responses={**ERRORS, 200: {"content": {"text/plain": {}, "application/json": {}}}},
)
def export_zone(
    zone: ZoneName,
    services: ServicesDep,
    caller: CallerDep,
    format: Annotated[str, Query(pattern=r"^(text|json)$")] = "text",
) -> PlainTextResponse | views.ZoneExport:
    """The zone as PowerDNS serves it, as a BIND zone file (PowerDNS's export); with
    format=json, that text in a JSON object."""
    with services.store.unit_of_work() as uow:
        row = zones(uow).live_or_404(_name(zone), caller.scope)
        name = row.name
    text = provider(services).export(name)
    if format == "json":
        return views.ZoneExport(zone=name, text=text)
    return PlainTextResponse(text)


@router.get("/{zone}/records", responses=ERRORS)
def list_records(zone: ZoneName, services: ServicesDep, caller: CallerDep) -> views.RRsetList:
    """Every RRset of the zone the database has (the platform's SOA and NS marked)."""
    with services.store.unit_of_work() as uow:
        row = zones(uow).live_or_404(_name(zone), caller.scope)
        name, zone_id = row.name, row.id
    return views.RRsetList(items=_rrsets(services, name, zone_id))


@router.put("/{zone}/records/{name}/{rtype}", status_code=202, responses=ERRORS)
def set_records(
    zone: ZoneName,
    name: RecordName,
    rtype: RecordType,
    body: views.RRsetBody,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> views.Accepted:
    """Replace the whole RRset with `contents` (one PATCH, all or nothing; the database
    records it only once PowerDNS took it). 422 for an invalid value, a name outside the zone,
    a CNAME beside other records; 409 while the zone has another operation."""
    sub = retrying(
        idempotency_key,
        lambda: requests.set_rrset(
            services,
            zone=_name(zone),
            name=name,
            rtype=rtype,
            ttl=body.ttl,
            values=body.contents,
            actor=caller.actor,
            scope=caller.scope,
            idempotency_key=idempotency_key,
        ),
    )
    return _accepted(response, services, submitter, sub)


@router.delete("/{zone}/records/{name}/{rtype}", status_code=202, responses=ERRORS)
def delete_records(
    zone: ZoneName,
    name: RecordName,
    rtype: RecordType,
    response: Response,
    services: ServicesDep,
    submitter: SubmitterDep,
    caller: CallerDep,
    idempotency_key: IdempotencyKey = None,
) -> views.Accepted:
    sub = retrying(
        idempotency_key,
        lambda: requests.delete_rrset(
            services,
            zone=_name(zone),
            name=name,
            rtype=rtype,
            actor=caller.actor,
            scope=caller.scope,
            idempotency_key=idempotency_key,
        ),
    )
    return _accepted(response, services, submitter, sub)
