"""What a DNS zone is (pure): its lifecycle, operations and steps, its name rule, and the
RRsets a user may set in it (validated with the PowerDNS provider's pure validators).

A zone belongs to a tenant. Its SOA and apex NS are the platform's (from the DNS settings);
every other RRset is the tenant's, kept whole in the database: a change replaces one RRset
with all its values (adding a value never loses the others)."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hostplane.errors import ConflictError, ValidationError
from hostplane.kernel.lifecycle import RESOURCE_TRANSITIONS, Lifecycle, ResourceStatus
from hostplane.providers.powerdns import rrsets as r
from hostplane.providers.powerdns.names import canonical_name
from hostplane.providers.powerdns.rrsets import Change, Delete, Replace, RRset

KIND = "zone"
PARENT = "tenant"
ZONE_MAX = 253


ZoneStatus = ResourceStatus  # the lifecycle most resources share (kernel)
Z = ZoneStatus
LIFECYCLE = Lifecycle(KIND, RESOURCE_TRANSITIONS)
LIVE = frozenset(set(ZoneStatus) - {Z.DELETED})
DELETABLE = frozenset({Z.ACTIVE, Z.FAILED})
# The zones PowerDNS must hold (the reconciler repairs them; records change only on these).
SERVED = frozenset({Z.ACTIVE})


class ZoneOp(enum.StrEnum):
    CREATE = "zone-create"
    RETRY = "zone-retry"  # a FAILED create run again
    DELETE = "zone-delete"
    RECORDS = "zone-records"  # one RRset replaced or deleted
    REPAIR = "zone-repair"  # a reconcile putting the database's RRsets back


class Step(enum.StrEnum):
    ZONE = "zone-zone"  # the zone on PowerDNS, marked as this plane's, with the platform's SOA/NS
    RRSETS = "zone-rrsets"  # the operation's change set, one PATCH (all or nothing)
    RESTORE = "zone-restore"  # every RRset of the database put back (a repair)


def create_plan() -> tuple[Step, ...]:
    return (Step.ZONE,)


def delete_plan() -> tuple[Step, ...]:
    return (Step.ZONE,)


def records_plan() -> tuple[Step, ...]:
    return (Step.RRSETS,)


ZONE_NAME_HINT = (
    "a full domain name such as example.com: two or more labels of letters, digits and "
    "hyphens, not under the platform's base domain"
)


def validate_zone_name(raw: str, *, base_domain: str) -> str:
    """The zone's name in lowercase ASCII without the trailing dot (e.g. 'example.com'), or
    ValidationError saying what to fix: rules of a custom domain (no wildcard, no underscore,
    two labels at least, not an address, not the platform's base domain or under it)."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValidationError(f"zone name is empty: give {ZONE_NAME_HINT}")
    name = canonical_name(raw, what="zone name", wildcard=False).rstrip(".")
    labels = name.split(".")
    if any("_" in label for label in labels):
        raise ValidationError(f"zone name {raw!r} has an underscore: give {ZONE_NAME_HINT}")
    if len(labels) < 2:
        raise ValidationError(f"zone name {raw!r} has no dot: give {ZONE_NAME_HINT}")
    if labels[-1].isdigit():
        raise ValidationError(f"zone name {raw!r} looks like an IP address: give a domain name")
    base = base_domain.lower().rstrip(".")
    if name == base or name.endswith("." + base):
        raise ValidationError(
            f"zone {name} is the platform's base domain {base} or under it: host another name"
        )
    return name


def overlaps(a: str, b: str) -> bool:
    """Whether zone `a` is `b`, under it or above it (names without the trailing dot)."""
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def check_not_held(name: str, holders: Iterable[tuple[str, str]], tenant: str) -> None:
    """ConflictError when a live zone of another tenant than `tenant` is `name`, above it or
    under it (`holders`: (zone, tenant) of the live zones)."""
    for zone, owner in holders:
        if owner != tenant and overlaps(name, zone):
            raise ConflictError(
                f"zone {name} is held by another tenant (its zone {zone}): a zone, the names "
                "under it and above it belong to one tenant"
            )


# The RRsets of a zone, as the database keeps them ----------------------------------------


def desired(zone: str, name: str, rtype: str, ttl: int, values: Sequence[str]) -> RRset:
    """One RRset a user asked for, validated (types, contents, name inside the zone, one CNAME
    target, never the SOA or the apex NS): the provider's pure validators."""
    return r.rrset(zone, name, rtype, ttl, values)


def deletion(zone: str, name: str, rtype: str) -> Delete:
    return r.delete(zone, name, rtype)


def check_change(current: Iterable[RRset], change: Change) -> None:
    """ValidationError when the zone's RRsets with `change` made would break a rule (a CNAME
    alone at its name): checked against the database's RRsets, before anything is sent."""
    result = {item.key: item for item in current}
    if isinstance(change, Replace):
        result[change.key] = change.rrset
    else:
        result.pop(change.key, None)
    r.check_exclusive(result.values())


def change_options(change: Change) -> dict[str, Any]:
    """A change as an operation's options (JSON)."""
    if isinstance(change, Delete):
        return {"name": change.name, "type": change.type, "delete": True}
    item = change.rrset
    return {"name": item.name, "type": item.type, "ttl": item.ttl, "contents": list(item.contents)}


def change_of(options: Mapping[str, Any]) -> Change:
    if options.get("delete"):
        return Delete(str(options["name"]), str(options["type"]))
    return Replace(
        RRset(
            str(options["name"]),
            str(options["type"]),
            int(options["ttl"]),
            tuple(str(c) for c in options["contents"]),
        )
    )


def apex(
    zone: str, nameservers: Sequence[str], hostmaster: str, ttl: int, negative: int
) -> list[RRset]:
    """The zone's platform-managed RRsets (SOA, NS) as the settings make them."""
    return list(r.apex(zone, nameservers, hostmaster, ttl, negative))


# The records the platform keeps for a bound custom domain ---------------------------------

MANAGED_TYPES = ("A", "AAAA", "CNAME")
PLATFORM_TTL = 300  # short: the platform's addresses may move


def domain_records(zone: str, domain: str, *, ips: Iterable[str], cname: str | None) -> list[RRset]:
    """The RRsets that point custom domain `domain` of `zone` at the platform: a CNAME to the
    tunnel when there is one, else A and AAAA records of the platform's public addresses."""
    if cname is not None:
        if domain.rstrip(".") == zone.rstrip("."):
            raise ValidationError(
                f"{domain} is the apex of zone {zone}: a tunnel needs a CNAME, which the apex "
                f"of a zone cannot have (bind www.{zone} instead)"
            )
        return [r.rrset(zone, domain, "CNAME", PLATFORM_TTL, [cname])]
    v4 = sorted(ip for ip in ips if ":" not in ip)
    v6 = sorted(ip for ip in ips if ":" in ip)
    out = [r.rrset(zone, domain, rtype, PLATFORM_TTL, v) for rtype, v in (("A", v4), ("AAAA", v6))
           if v]  # fmt: skip
    if not out:
        raise ValidationError(
            f"the platform has no public address to point {domain} at in zone {zone}: "
            "set HOSTPLANE_PUBLIC_IPS"
        )
    return out


def check_free_for_domain(zone: str, domain: str, rows: Iterable[tuple[str, str | None]]) -> None:
    """ConflictError when the tenant has its own A, AAAA or CNAME record at the domain's name
    (`rows`: (type, managed_by) of the RRsets at that name): the platform never takes it over."""
    for rtype, managed_by in rows:
        if rtype in MANAGED_TYPES and managed_by != domain:
            name = canonical_name(domain)
            raise ConflictError(
                f"zone {zone} has its own {rtype} record at {name}: delete it (hostctl record "
                f"delete {zone} {name} {rtype}) and add the domain again, so that the platform "
                "keeps the records that point it here"
            )


def check_not_managed(name: str, rtype: str, managed_by: str | None) -> None:
    """ConflictError when the RRset `name` `rtype` is kept by the platform for a domain."""
    if managed_by is not None:
        raise ConflictError(
            f"{name} {rtype} is kept by the platform for custom domain {managed_by}: it follows "
            "the domain's binding (remove the domain to remove it)"
        )
