"""What each step of a zone's sagas does, and how it is undone. A step re-reads what it needs
from the database and calls the PowerDNS provider; every action is idempotent (a zone ensured
again, a REPLACE sent again change nothing)."""

from __future__ import annotations

from typing import Any, cast

from hostplane.errors import PermanentError
from hostplane.kernel.outcome import Outcome
from hostplane.kernel.steps import Options, StepDef
from hostplane.kinds.zone.model import Step, change_of
from hostplane.kinds.zone.repo import as_rrset, records
from hostplane.kinds.zone.table import ZoneRow
from hostplane.providers.powerdns.api import PowerDnsApi
from hostplane.providers.powerdns.rrsets import RRset, diff
from hostplane.services import Services

PLATFORM_TYPES = frozenset({"SOA"})


def provider(services: Services) -> PowerDnsApi:
    if services.zones is None:
        raise PermanentError("this control plane has no DNS zones provider (PowerDNS) configured")
    return services.zones


def ensure_zone(services: Services, name: str) -> Outcome:
    """The zone on PowerDNS, this plane's, with the SOA and NS of the platform's settings."""
    settings = services.settings
    return provider(services).ensure_zone(
        name,
        settings.zone_nameservers,
        settings.zone_hostmaster,
        settings.dns_default_ttl,
        negative_ttl=settings.dns_negative_ttl,
    )


def desired_rrsets(services: Services, zone_id: str) -> list[RRset]:
    with services.store.unit_of_work() as uow:
        return [as_rrset(row) for row in records(uow).of(zone_id)]


def is_platform(item: RRset, zone: str) -> bool:
    """The zone's SOA and apex NS come from the settings (ensure_zone keeps them)."""
    return item.type in PLATFORM_TYPES or (item.type == "NS" and item.name == zone)


def restore(services: Services, zone: ZoneRow) -> Outcome:
    """The zone ensured, then every RRset of the database put back where PowerDNS lacks it or
    holds other values (one PATCH); RRsets the database does not know are left alone."""
    outcome = ensure_zone(services, zone.name)
    fqdn = zone.name + "."
    observed = [i for i in provider(services).rrsets(zone.name) if not is_platform(i, fqdn)]
    changes = diff(desired_rrsets(services, zone.id), observed).repairs(prune=False)
    if changes and provider(services).apply_rrsets(zone.name, changes).changed:
        return Outcome.UPDATED
    return outcome


def _zone(services: Services, zone: ZoneRow, options: Options) -> Outcome:
    return ensure_zone(services, zone.name)


def _remove_zone(services: Services, zone: ZoneRow, options: Options) -> Outcome:
    return provider(services).remove_zone(zone.name)


def _rrsets(services: Services, zone: ZoneRow, options: Options) -> Outcome:
    """The operation's change: one PATCH, which PowerDNS applies whole or not at all."""
    return provider(services).apply_rrsets(
        zone.name, [change_of(cast(dict[str, Any], options["change"]))]
    )


def _restore(services: Services, zone: ZoneRow, options: Options) -> Outcome:
    return restore(services, zone)


STEPS: tuple[StepDef[ZoneRow], ...] = (
    StepDef(Step.ZONE, _zone, _remove_zone, "the zone on PowerDNS with the platform's SOA and NS"),
    # No undo: a refused PATCH applied nothing; the database records the change only after.
    StepDef(Step.RRSETS, _rrsets, None, "the RRset change applied on PowerDNS"),
    StepDef(Step.RESTORE, _restore, None, "the zone's RRsets on PowerDNS as the database has them"),
)
BY_NAME = {step.name: step for step in STEPS}
