"""The records a hosted zone keeps for the custom domains bound in it.

When a custom domain is added and one of its tenant's ACTIVE zones holds its name, the zone
writes the RRsets that point the name at the platform (A/AAAA to the public addresses, or a
CNAME to the tunnel) before the domain's DNS is checked: the check then passes because the
zone answers, not because it was skipped. They are the platform's (`managed_by` the domain):
users cannot change them, and the domain's removal (or its failed addition) removes them.

The tenant declares the extension point (DOMAIN_STEPS), the domain kind runs this step by name;
this module knows a domain only as the two attributes it reads."""

from __future__ import annotations

from typing import Any, Protocol

import structlog

from hostplane.kernel.outcome import Outcome
from hostplane.kernel.steps import Options, StepDef
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kinds.zone.model import (
    MANAGED_TYPES,
    ZoneStatus,
    check_free_for_domain,
    domain_records,
)
from hostplane.kinds.zone.repo import records, zones
from hostplane.kinds.zone.steps import provider
from hostplane.kinds.zone.table import ZoneRow
from hostplane.providers.acme.issuer import TxtChallenges
from hostplane.providers.powerdns.acme import PowerDnsTxtChallenges
from hostplane.providers.powerdns.dnsprobe import reachable_address
from hostplane.providers.powerdns.names import canonical_name
from hostplane.providers.powerdns.rrsets import Change, Delete, Replace
from hostplane.services import Services

log = structlog.get_logger(__name__)

STEP = "zone-domain-records"


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class _OfTenant(Protocol):
    @property
    def tenant_id(self) -> str | None: ...


class BoundDomain(Protocol):
    """What the step reads of a domain's target (the domain kind's DomainTarget)."""

    @property
    def domain(self) -> _Named: ...

    @property
    def site(self) -> _OfTenant: ...


def domain_steps(
    services: Services, uow: UnitOfWork, domain: str, tenant_id: str | None, *, removal: bool
) -> tuple[str, ...]:
    """The step, for a domain in one of its tenant's ACTIVE zones (or, for a removal, one the
    platform keeps records for)."""
    if services.zones is None:
        return ()
    if zones(uow).tenants_serving(domain, tenant_id) is not None:
        return (STEP,)
    return (STEP,) if removal and records(uow).kept_for(domain) else ()


def _serving(services: Services, target: BoundDomain) -> ZoneRow | None:
    return _tenants_zone(services, target.domain.name, target.site.tenant_id)


def _tenants_zone(services: Services, name: str, tenant_id: str | None) -> ZoneRow | None:
    """The tenant's ACTIVE zone `name` is in, if any."""
    with services.store.unit_of_work() as uow:
        return zones(uow).tenants_serving(name, tenant_id)


def dns01(services: Services, domain: str, tenant_id: str | None) -> TxtChallenges | None:
    """The domain's DNS-01 TXT records, written in its tenant's zone on this plane's PowerDNS
    and confirmed answered there (where HOSTPLANE_DNS_BIND and HOSTPLANE_DNS_PORT say)."""
    if services.zones is None:
        return None
    zone = _tenants_zone(services, domain, tenant_id)
    if zone is None:
        return None
    settings = services.settings
    return PowerDnsTxtChallenges(
        services.zones,
        zone.name,
        dns_host=reachable_address(settings.dns_bind_addresses[0]),
        dns_port=settings.dns_port,
    )


def _apply(services: Services, target: BoundDomain, options: Options) -> Outcome:
    """The domain's RRsets written in one PATCH, then recorded as the platform's."""
    zone = _serving(services, target)
    if zone is None:
        return Outcome.ABSENT
    domain = target.domain.name
    name = canonical_name(domain)
    tunnel = services.tunnel.target if services.tunnel is not None else None
    wanted = domain_records(
        zone.name, domain, ips=[str(ip) for ip in services.dns_expectation.public_ips], cname=tunnel
    )
    with services.store.unit_of_work() as uow:
        present = records(uow).at(zone.id, name)
        check_free_for_domain(zone.name, domain, [(row.type, row.managed_by) for row in present])
    kept = {item.type for item in wanted}
    changes: list[Change] = [Replace(item) for item in wanted]
    changes += [Delete(name, t) for t in MANAGED_TYPES if t not in kept]
    outcome = provider(services).apply_rrsets(zone.name, changes)
    with services.store.unit_of_work() as uow:
        for item in wanted:
            records(uow).put(zone.id, item, managed_by=domain)
        for row in records(uow).at(zone.id, name):
            if row.managed_by == domain and row.type not in kept:
                uow.session.delete(row)
        _touch(uow, zone.id)
    log.info("zone.domain_records", zone=zone.name, domain=domain, outcome=outcome.value)
    return outcome


def _undo(services: Services, target: BoundDomain, options: Options) -> Outcome:
    """The domain's RRsets deleted from its zone (never one of the tenant's own), then their
    rows. The zone is found by its rows and by name: a crash between the PATCH and the rows of
    an addition left no rows."""
    domain = target.domain.name
    name = canonical_name(domain)
    with services.store.unit_of_work() as uow:
        zone_ids = {row.zone_id for row in records(uow).kept_for(domain)}
    serving = _serving(services, target)
    if serving is not None:
        zone_ids.add(serving.id)
    outcome = Outcome.ABSENT
    for zone_id in sorted(zone_ids):
        if _remove_from(services, zone_id, domain, name).changed:
            outcome = Outcome.DELETED
    return outcome


def _remove_from(services: Services, zone_id: str, domain: str, name: str) -> Outcome:
    with services.store.unit_of_work() as uow:
        zone = zones(uow).get(zone_id)
        assert zone is not None
        theirs = {r.type for r in records(uow).at(zone_id, name) if r.managed_by != domain}
        zone_name, active = zone.name, zone.status == ZoneStatus.ACTIVE
    outcome = Outcome.ABSENT
    if active:
        gone: list[Change] = [Delete(name, t) for t in MANAGED_TYPES if t not in theirs]
        outcome = provider(services).apply_rrsets(zone_name, gone)
    with services.store.unit_of_work() as uow:
        rows = [r for r in records(uow).at(zone_id, name) if r.managed_by == domain]
        for row in rows:
            uow.session.delete(row)
        _touch(uow, zone_id)
    return Outcome.DELETED if outcome.changed or rows else Outcome.ABSENT


def _touch(uow: UnitOfWork, zone_id: str) -> None:
    """The zone's version bumped: a user's change recorded meanwhile fails and is retried."""
    zone = zones(uow).get(zone_id)
    assert zone is not None
    zones(uow).touch(zone)


STEP_DEF: StepDef[Any] = StepDef(
    STEP, _apply, _undo, "the records of the domain in its hosted zone, kept by the platform"
)
