"""Recording a zone's intent: the zone (or the RRset change) and its operation in one
transaction; the API submits the operation after the commit. Every rule is checked here,
before anything is sent to PowerDNS: names, per-type contents, names inside the zone, a
CNAME alone at its name, the zone's one operation at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from hostplane.errors import ConflictError
from hostplane.kernel.operations import (
    Submitted,
    refuse_if_busy,
    replay,
    request_hash,
    submit,
)
from hostplane.kernel.transition import record_created
from hostplane.kinds.tenant.model import Limit, TenantStatus
from hostplane.kinds.tenant.repo import tenants
from hostplane.kinds.tenant.requests import check_usage
from hostplane.kinds.zone.lifecycle import audit
from hostplane.kinds.zone.model import (
    DELETABLE,
    KIND,
    LIFECYCLE,
    ZoneOp,
    ZoneStatus,
    change_options,
    check_change,
    check_not_held,
    check_not_managed,
    deletion,
    desired,
    validate_zone_name,
)
from hostplane.kinds.zone.repo import as_rrset, records, zones
from hostplane.kinds.zone.table import ZoneRow
from hostplane.providers.powerdns.rrsets import Change, Delete, Replace
from hostplane.services import Services

_operation = partial(submit, KIND)  # (uow, row, kind, actor, key, fingerprint, **options)


def create_zone(
    services: Services,
    *,
    name: str,
    tenant: str,
    actor: str,
    idempotency_key: str | None,
    scope: str | None = None,
) -> Submitted:
    name = validate_zone_name(name, base_domain=services.settings.base_domain)
    fingerprint = request_hash({"op": ZoneOp.CREATE, "name": name, "tenant": tenant})
    with services.store.unit_of_work() as uow:
        replayed = replay(uow, idempotency_key, fingerprint)
        if replayed:
            return replayed
        owner = tenants(uow).live_or_404(tenant, scope)
        if owner.status != TenantStatus.ACTIVE:
            raise ConflictError(
                f"tenant {tenant!r} is {owner.status}: zones are added to ACTIVE tenants only"
            )
        # Two tenants asking for overlapping names at once are serialized here.
        uow.lock(f"zone-name:{'.'.join(name.split('.')[-2:])}")
        existing = zones(uow).get_live(name)
        if existing is not None and existing.tenant_id == owner.id:
            raise ConflictError(f"zone {name!r} already exists (status {existing.status})")
        check_not_held(name, zones(uow).holders(name), owner.name)
        refuse_if_busy(uow, KIND, name)
        check_usage(uow, owner, Limit.ZONES, zones(uow).count_of_tenant(owner.id))
        tenants(uow).touch(owner)  # two creates of one tenant at once: the second is a 409
        zone = zones(uow).add(ZoneRow(name=name, tenant_id=owner.id, status=ZoneStatus.PENDING))
        uow.flush()
        sub = _operation(uow, zone, ZoneOp.CREATE, actor, idempotency_key, fingerprint)
        record_created(
            uow, LIFECYCLE, zone, reason="requested", actor=actor, operation_id=sub.operation_id
        )
        return sub


def delete_zone(
    services: Services,
    *,
    name: str,
    actor: str,
    scope: str | None = None,
    idempotency_key: str | None = None,
    force: bool = False,
) -> Submitted:
    """The zone deleted; refused while it keeps the records of bound custom domains, unless
    `force` (the domains stay bound, their names no longer answered here)."""
    fingerprint = request_hash({"op": ZoneOp.DELETE, "name": name, "force": force})
    with services.store.unit_of_work() as uow:
        replayed = replay(uow, idempotency_key, fingerprint)
        if replayed:
            return replayed
        zone = zones(uow).live_or_404(name, scope)
        refuse_if_busy(uow, KIND, name)
        if zone.status not in DELETABLE:
            raise ConflictError(
                f"zone {name!r} is {zone.status}: only ACTIVE or FAILED zones are deleted"
            )
        bound = sorted({row.managed_by for row in records(uow).managed(zone.id) if row.managed_by})
        if bound and not force:
            raise ConflictError(
                f"zone {name!r} keeps the records of bound custom domains ({', '.join(bound)}): "
                "remove those domains first, or delete with force (?force=true, --force) and "
                "their names stop resolving here"
            )
        zones(uow).touch(zone)
        sub = _operation(uow, zone, ZoneOp.DELETE, actor, idempotency_key, fingerprint)
        audit(uow, actor, zone, "zone.delete", f"zone is {zone.status}", sub.operation_id)
        return sub


def retry_zone(services: Services, *, name: str, actor: str, scope: str | None = None) -> Submitted:
    with services.store.unit_of_work() as uow:
        zone = zones(uow).live_or_404(name, scope)
        refuse_if_busy(uow, KIND, name)
        if zone.status != ZoneStatus.FAILED:
            raise ConflictError(f"zone {name!r} is {zone.status}: only FAILED zones are retried")
        last = uow.operations.latest_for(zone.id)
        if last is not None and last.kind == ZoneOp.DELETE:
            return _operation(uow, zone, ZoneOp.DELETE, actor)
        return _operation(uow, zone, ZoneOp.RETRY, actor)


def _change(
    services: Services,
    *,
    zone_name: str,
    build: Callable[[str], Change],
    actor: str,
    scope: str | None,
    idempotency_key: str | None,
    payload: dict[str, object],
) -> Submitted:
    fingerprint = request_hash({"op": ZoneOp.RECORDS, "zone": zone_name, **payload})
    with services.store.unit_of_work() as uow:
        replayed = replay(uow, idempotency_key, fingerprint)
        if replayed:
            return replayed
        zone = zones(uow).live_or_404(zone_name, scope)
        change = build(zone.name)
        refuse_if_busy(uow, KIND, zone.name)
        if zone.status != ZoneStatus.ACTIVE:
            raise ConflictError(
                f"zone {zone.name!r} is {zone.status}: records change in ACTIVE zones only"
            )
        rows = records(uow).of(zone.id)
        for row in rows:
            if (row.name, row.type) == change.key:
                check_not_managed(row.name, row.type, row.managed_by)
        check_change([as_rrset(row) for row in rows], change)
        zones(uow).touch(zone)
        return _operation(
            uow,
            zone,
            ZoneOp.RECORDS,
            actor,
            idempotency_key,
            fingerprint,
            change=change_options(change),
        )


def set_rrset(
    services: Services,
    *,
    zone: str,
    name: str,
    rtype: str,
    ttl: int | None,
    values: Sequence[str],
    actor: str,
    scope: str | None = None,
    idempotency_key: str | None = None,
) -> Submitted:
    """Replace the whole RRset `name` `rtype` of `zone` with `values` (validated now)."""
    seconds = ttl if ttl is not None else services.settings.dns_default_ttl
    return _change(
        services,
        zone_name=zone,
        build=lambda z: _replace(z, name, rtype, seconds, values),
        actor=actor,
        scope=scope,
        idempotency_key=idempotency_key,
        payload={"name": name, "type": rtype, "ttl": seconds, "values": list(values)},
    )


def _replace(zone: str, name: str, rtype: str, ttl: int, values: Sequence[str]) -> Change:
    return Replace(desired(zone, name, rtype, ttl, values))


def delete_rrset(
    services: Services,
    *,
    zone: str,
    name: str,
    rtype: str,
    actor: str,
    scope: str | None = None,
    idempotency_key: str | None = None,
) -> Submitted:
    return _change(
        services,
        zone_name=zone,
        build=lambda z: _delete(z, name, rtype),
        actor=actor,
        scope=scope,
        idempotency_key=idempotency_key,
        payload={"name": name, "type": rtype, "delete": True},
    )


def _delete(zone: str, name: str, rtype: str) -> Delete:
    return deletion(zone, name, rtype)


def audit_refusal(
    services: Services, *, actor: str, name: str, reason: str, scope: str | None
) -> None:
    """A refused zone deletion is audited in its own transaction (never another tenant's)."""
    with services.store.unit_of_work() as uow:
        zone = zones(uow).get_latest(name)
        if zone is None or (scope is not None and zone.tenant_id != scope):
            return
        audit(uow, actor, zone, "zone.delete", reason, None, decision="refused")
