"""RRsets and change sets, as PowerDNS's API takes them, and the diff of desired against observed
RRsets. Pure: no I/O.

An RRset is every record of one name and type. A change replaces a whole RRset with all its
values (Replace) or deletes one (Delete): adding a value means replacing the RRset with the old
values and the new one, from the database (the source of truth), never by reading PowerDNS and
writing back what was read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from hostplane.errors import ValidationError
from hostplane.providers.powerdns import content
from hostplane.providers.powerdns.content import SUPPORTED_TYPES
from hostplane.providers.powerdns.names import canonical_name, in_zone, owner_name, target_name

MAX_TTL = 2**31 - 1  # RFC 2181 §8
# SOA timers (RFC 1912 §2.2 values): they matter only to secondaries, which Native zones have
# none of; the negative-caching TTL (the last field) comes from the settings.
SOA_REFRESH, SOA_RETRY, SOA_EXPIRE = 10800, 3600, 604800


@dataclass(frozen=True, slots=True, order=True)
class RRset:
    name: str  # canonical: lowercase ASCII with the trailing dot
    type: str
    ttl: int
    contents: tuple[str, ...]  # PowerDNS content syntax, canonical, sorted, no duplicates

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.type)


@dataclass(frozen=True, slots=True)
class Replace:
    rrset: RRset

    @property
    def key(self) -> tuple[str, str]:
        return self.rrset.key


@dataclass(frozen=True, slots=True)
class Delete:
    name: str
    type: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.type)


Change = Replace | Delete


def check_ttl(ttl: int) -> int:
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL:
        raise ValidationError(f"TTL must be a whole number of seconds from 1 to {MAX_TTL}")
    return ttl


def record_type(rtype: str) -> str:
    rtype = rtype.strip().upper()
    if rtype == "SOA":
        raise ValidationError(
            "the SOA record is the zone's own: it comes from the platform's DNS settings"
        )
    if rtype not in SUPPORTED_TYPES:
        raise ValidationError(
            f"record type {rtype!r} is not supported: use one of {', '.join(SUPPORTED_TYPES)}"
        )
    return rtype


def rrset(zone: str, name: str, rtype: str, ttl: int, values: Sequence[str]) -> RRset:
    """A validated RRset of `zone` from what a user wrote (TXT values are the text itself)."""
    owner = owner_name(name, zone)
    rtype = record_type(rtype)
    apex = canonical_name(zone, what="zone", wildcard=False)
    if rtype == "NS" and owner == apex:
        raise ValidationError(
            "the zone's own NS records come from the platform's name servers "
            "(HOSTPLANE_DNS_NAMESERVERS); NS records are for delegating a name under the zone"
        )
    if isinstance(values, str) or not values:
        raise ValidationError(
            f"{owner} {rtype} needs at least one value (a list): to remove it, delete the RRset"
        )
    contents = [content.from_value(rtype, value) for value in values]
    duplicates = sorted({c for c in contents if contents.count(c) > 1})
    if duplicates:
        raise ValidationError(f"{owner} {rtype}: {duplicates[0]!r} is given twice")
    if rtype == "CNAME" and len(contents) > 1:
        raise ValidationError(f"{owner} can have only one CNAME target, not {len(contents)}")
    return RRset(owner, rtype, check_ttl(ttl), tuple(sorted(contents)))


def delete(zone: str, name: str, rtype: str) -> Delete:
    return Delete(owner_name(name, zone), record_type(rtype))


def observed_rrset(name: str, rtype: str, ttl: int, contents: Iterable[str]) -> RRset:
    """An RRset as read from PowerDNS, its content in this provider's spelling where it parses."""
    rtype = rtype.upper()
    canonical = {content.observed(rtype, c) for c in contents}
    return RRset(name.lower(), rtype, ttl, tuple(sorted(canonical)))


def apex(
    zone: str,
    nameservers: Sequence[str],
    hostmaster: str,
    ttl: int,
    negative_ttl: int,
    serial: int = 0,
) -> tuple[RRset, RRset]:
    """The zone's SOA and NS RRsets from the platform's settings. `hostmaster` is the SOA's
    mailbox as a name (hostmaster.example.com for hostmaster@example.com)."""
    zone = canonical_name(zone, what="zone", wildcard=False)
    if not nameservers:
        raise ValidationError("a zone needs at least one name server (HOSTPLANE_DNS_NAMESERVERS)")
    hosts = sorted({target_name(ns, what=f"name server {ns!r}") for ns in nameservers})
    rname = canonical_name(hostmaster, what="hostmaster", wildcard=False)
    soa = content.Soa(
        target_name(nameservers[0], what=f"name server {nameservers[0]!r}"),  # the primary
        rname,
        serial,
        SOA_REFRESH,
        SOA_RETRY,
        SOA_EXPIRE,
        check_ttl(negative_ttl),
    )
    return (
        RRset(zone, "SOA", check_ttl(ttl), (soa.content,)),
        RRset(zone, "NS", ttl, tuple(hosts)),
    )


def with_serial(soa: RRset, serial: int) -> RRset:
    """The SOA RRset with `serial` (PowerDNS increments from the serial it is given)."""
    (value,) = soa.contents
    return replace(soa, contents=(replace(content.soa(value), serial=serial).content,))


def serial(soa: RRset) -> int:
    """The serial of a SOA RRset (0 when it holds none that parses)."""
    try:
        return content.soa(soa.contents[0]).serial
    except (IndexError, ValidationError):
        return 0


def check_in_zone(zone: str, changes: Iterable[Change]) -> None:
    for change in changes:
        if not in_zone(change.key[0], zone):
            raise ValidationError(f"{change.key[0]} is not inside zone {zone}")


def check_exclusive(rrsets: Iterable[RRset]) -> None:
    """A CNAME is alone at its name (RFC 1034 §3.6.2; RFC 2181 §10.1)."""
    types: dict[str, set[str]] = defaultdict(set)
    for item in rrsets:
        if item.contents:
            types[item.name].add(item.type)
    for name, at_name in sorted(types.items()):
        others = sorted(at_name - {"CNAME", "RRSIG", "NSEC", "NSEC3"})
        if "CNAME" in at_name and others:
            raise ValidationError(
                f"{name} would have a CNAME and {', '.join(others)} records: a CNAME cannot "
                "share its name with other records; delete one of them first"
            )


def effective(observed: Iterable[RRset], changes: Sequence[Change]) -> list[Change]:
    """The changes that would change something, after checking the change set and the zone it
    leaves: each RRset at most once, CNAMEs alone at their names."""
    seen: set[tuple[str, str]] = set()
    for change in changes:
        if change.key in seen:
            raise ValidationError(f"{change.key[0]} {change.key[1]} is changed twice in one set")
        seen.add(change.key)
    current = {item.key: item for item in observed}
    result = dict(current)
    wanted: list[Change] = []
    for change in changes:
        before = current.get(change.key)
        if isinstance(change, Replace):
            result[change.key] = change.rrset
            if not _same(before, change.rrset):
                wanted.append(change)
        else:
            result.pop(change.key, None)
            if before is not None:
                wanted.append(change)
    check_exclusive(result.values())
    return wanted


def _same(a: RRset | None, b: RRset) -> bool:
    if a is None or a.ttl != b.ttl or a.key != b.key:
        return False
    if a.type == "SOA" and len(a.contents) == len(b.contents) == 1:
        return _soa_key(a.contents[0]) == _soa_key(b.contents[0])
    return a.contents == b.contents


def _soa_key(value: str) -> object:
    try:
        return content.soa(value).without_serial()
    except ValidationError:
        return value


@dataclass(frozen=True, slots=True)
class RRsetDiff:
    missing: tuple[RRset, ...] = ()  # desired, absent from PowerDNS
    drifted: tuple[tuple[RRset, RRset], ...] = ()  # (desired, observed): other values or TTL
    extra: tuple[RRset, ...] = ()  # in PowerDNS, not desired

    @property
    def clean(self) -> bool:
        return not (self.missing or self.drifted or self.extra)

    def repairs(self, *, prune: bool = False) -> list[Change]:
        """The change set that makes PowerDNS hold the desired RRsets (and deletes the extra
        ones with `prune`). A drifted SOA keeps PowerDNS's serial, which it then increments."""
        changes: list[Change] = [Replace(item) for item in self.missing]
        for desired, found in self.drifted:
            if desired.type == "SOA":
                desired = with_serial(desired, serial(found))
            changes.append(Replace(desired))
        if prune:
            changes.extend(Delete(item.name, item.type) for item in self.extra)
        return changes


def diff(desired: Iterable[RRset], observed: Iterable[RRset]) -> RRsetDiff:
    """Missing, drifted and extra RRsets. Both sides are compared in this provider's spelling;
    a SOA whose serial alone differs (PowerDNS bumps it on every change) is not drift."""
    want = {n.key: n for n in map(_normal, desired)}
    have = {n.key: n for n in map(_normal, observed)}
    missing = tuple(sorted(want[k] for k in want.keys() - have.keys()))
    extra = tuple(sorted(have[k] for k in have.keys() - want.keys()))
    drifted = tuple(
        (want[k], have[k]) for k in sorted(want.keys() & have.keys()) if not _same(have[k], want[k])
    )
    return RRsetDiff(missing, drifted, extra)


def _normal(item: RRset) -> RRset:
    return observed_rrset(item.name, item.type, item.ttl, item.contents)
