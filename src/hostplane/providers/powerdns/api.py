"""The DNS zones provider: zones on a PowerDNS server, marked as this control plane's.

Ownership is PowerDNS's zone `account` field, set to the plane id when the zone is created: a
zone of another account (another plane's, or nobody's: made by hand) is refused with
ForeignResourceError and never changed, removed or listed. Every mutation is idempotent and
reports an Outcome; a change set is one PATCH, which PowerDNS applies all or nothing.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from hostplane.errors import ForeignResourceError, PermanentError, TemporaryError
from hostplane.kernel.outcome import Outcome
from hostplane.providers.powerdns.client import ApiClient
from hostplane.providers.powerdns.names import canonical_name
from hostplane.providers.powerdns.rrsets import (
    Change,
    Delete,
    Replace,
    RRset,
    apex,
    check_in_zone,
    effective,
    observed_rrset,
    serial,
    with_serial,
)

log = structlog.get_logger(__name__)

KIND = "Native"  # served from the database only: no AXFR to or from anyone
SOA_EDIT_API = "DEFAULT"  # PowerDNS keeps the serial (YYYYMMDDnn), bumped on every change
SEARCH_MAX = 1_000_000  # records in one search-data answer before observe() asks per zone


@dataclass(frozen=True, slots=True)
class Zone:
    name: str
    account: str
    serial: int
    kind: str


@dataclass(frozen=True, slots=True)
class ObservedZone:
    zone: Zone
    soa_edit_api: str
    rrsets: tuple[RRset, ...]  # the records PowerDNS serves (disabled ones left out)


def _zone(body: dict[str, Any]) -> Zone:
    return Zone(
        str(body["name"]).lower(),
        str(body.get("account") or ""),
        int(body.get("serial") or 0),
        str(body.get("kind", "")),
    )


def _rrsets(body: dict[str, Any]) -> tuple[RRset, ...]:
    found = []
    for item in body.get("rrsets", []):
        contents = [r["content"] for r in item.get("records", []) if not r.get("disabled")]
        if contents:
            found.append(observed_rrset(item["name"], item["type"], int(item["ttl"]), contents))
    return tuple(sorted(found))


def _group(rows: list[dict[str, Any]], zones: set[str]) -> dict[str, tuple[RRset, ...]]:
    """search-data's records of `zones` as RRsets per zone (disabled records left out)."""
    ttls: dict[tuple[str, str, str], int] = {}
    contents: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for row in rows:
        zone = str(row.get("zone", "")).lower()
        if zone in zones and not row.get("disabled"):
            key = (zone, str(row["name"]).lower(), str(row["type"]))
            ttls.setdefault(key, int(row["ttl"]))
            contents[key].append(str(row["content"]))
    grouped: dict[str, list[RRset]] = {zone: [] for zone in zones}
    for (zone, name, rtype), values in contents.items():
        grouped[zone].append(observed_rrset(name, rtype, ttls[(zone, name, rtype)], values))
    return {zone: tuple(sorted(grouped[zone])) for zone in sorted(zones)}


def _change(change: Change) -> dict[str, Any]:
    if isinstance(change, Delete):
        return {"name": change.name, "type": change.type, "changetype": "DELETE"}
    item = change.rrset
    return {
        "name": item.name,
        "type": item.type,
        "ttl": item.ttl,
        "changetype": "REPLACE",
        "records": [{"content": c, "disabled": False} for c in item.contents],
    }


class PowerDnsApi:
    """Zones and RRsets on the PowerDNS server at `url`, as the control plane `owner`."""

    def __init__(self, url: str, api_key: str, owner: str, *, timeout: float = 10.0) -> None:
        if not owner:
            raise ValueError("a PowerDNS provider needs its owner: this control plane's id")
        self.owner = owner
        self.api = ApiClient(url, api_key, timeout=timeout)

    @property
    def url(self) -> str:
        return self.api.url

    def close(self) -> None:
        self.api.close()

    # Reading -------------------------------------------------------------

    def observe_zone(self, name: str) -> ObservedZone | None:
        """The zone and what it serves, whoever owns it; None when there is no such zone."""
        zone = canonical_name(name, what="zone", wildcard=False)
        response = self.api.call("GET", f"/zones/{zone}", what=f"reading zone {zone}", accept=[404])
        if response.status_code == 404:
            return None
        body = response.json()
        return ObservedZone(_zone(body), str(body.get("soa_edit_api", "")), _rrsets(body))

    def zones(self) -> list[Zone]:
        """This plane's zones, in one call."""
        response = self.api.call("GET", "/zones", what="listing zones")
        zones = (_zone(body) for body in response.json())
        return sorted((z for z in zones if z.account == self.owner), key=lambda z: z.name)

    def rrsets(self, zone: str) -> tuple[RRset, ...]:
        """Every RRset this plane's zone serves, in one call."""
        return self._own(zone).rrsets

    def observe(self) -> dict[str, tuple[RRset, ...]]:
        """Every RRset of every zone of this plane, in two calls (the zone list and one search
        of all records), whatever the number of zones."""
        ours = {z.name for z in self.zones()}
        response = self.api.call(
            "GET",
            "/search-data",
            what="reading all records",
            params={"q": "*", "object_type": "record", "max": SEARCH_MAX},
        )
        rows = response.json()
        if len(rows) >= SEARCH_MAX:  # truncated: ask zone by zone instead
            return {zone: self.rrsets(zone) for zone in sorted(ours)}
        return _group(rows, ours)

    def export(self, zone: str) -> str:
        """The zone as a BIND zone file (PowerDNS's export)."""
        found = self._own(zone)
        response = self.api.call(
            "GET", f"/zones/{found.zone.name}/export", what=f"exporting zone {found.zone.name}"
        )
        return response.text

    def _own(self, name: str) -> ObservedZone:
        found = self.observe_zone(name)
        if found is None:
            raise PermanentError(
                f"zone {canonical_name(name, what='zone', wildcard=False)} does not exist on "
                f"PowerDNS at {self.url}"
            )
        return self._judge(found)

    def _judge(self, found: ObservedZone) -> ObservedZone:
        account = found.zone.account
        if account == self.owner:
            return found
        whose = f"account {account!r}" if account else "no account (made outside Hostplane)"
        raise ForeignResourceError(
            f"zone {found.zone.name} on PowerDNS is not this control plane's: it has {whose}, "
            f"not {self.owner!r}. Hostplane never adopts, changes or removes it: delete it "
            "there first, or host another zone name"
        )

    # Zones ---------------------------------------------------------------

    def ensure_zone(
        self,
        name: str,
        nameservers: Sequence[str],
        hostmaster: str,
        ttl: int,
        *,
        negative_ttl: int | None = None,
    ) -> Outcome:
        """A Native zone of this plane with this SOA and NS; PowerDNS keeps the serial."""
        started = time.monotonic()
        zone = canonical_name(name, what="zone", wildcard=False)
        soa, ns = apex(zone, nameservers, hostmaster, ttl, negative_ttl or ttl)
        found = self.observe_zone(zone)
        if found is None and self._create(zone, soa, ns):
            outcome = Outcome.CREATED
        else:
            found = found or self.observe_zone(zone)  # made by someone else just now
            if found is None:
                raise TemporaryError(f"zone {zone} was created and removed meanwhile: retry")
            outcome = self._align(self._judge(found), soa, ns)
        log.info(
            "powerdns.zone_ensured",
            zone=zone,
            outcome=outcome.value,
            elapsed_ms=round((time.monotonic() - started) * 1000, 1),
        )
        return outcome

    def _create(self, zone: str, soa: RRset, ns: RRset) -> bool:
        body = {
            "name": zone,
            "kind": KIND,
            "soa_edit_api": SOA_EDIT_API,
            "account": self.owner,
            "nameservers": [],
            "rrsets": [_change(Replace(soa)), _change(Replace(ns))],
        }
        response = self.api.call(
            "POST", "/zones", what=f"creating zone {zone}", json=body, accept=[409]
        )
        return response.status_code != 409

    def _align(self, found: ObservedZone, soa: RRset, ns: RRset) -> Outcome:
        """Our zone made to match: its kind, its serial policy, its SOA and NS."""
        zone = found.zone.name
        outcome = Outcome.UNCHANGED
        if found.zone.kind != KIND or found.soa_edit_api != SOA_EDIT_API:
            self.api.call(
                "PUT",
                f"/zones/{zone}",
                what=f"updating zone {zone}",
                json={"kind": KIND, "soa_edit_api": SOA_EDIT_API},
            )
            outcome = Outcome.UPDATED
        if self._patch(found, [Replace(soa), Replace(ns)]):
            outcome = Outcome.UPDATED
        return outcome

    def remove_zone(self, name: str) -> Outcome:
        """This plane's zone deleted with everything in it; ABSENT when there is none."""
        zone = canonical_name(name, what="zone", wildcard=False)
        found = self.observe_zone(zone)
        if found is None:
            return Outcome.ABSENT
        self._judge(found)
        response = self.api.call(
            "DELETE", f"/zones/{zone}", what=f"deleting zone {zone}", accept=[404]
        )
        outcome = Outcome.ABSENT if response.status_code == 404 else Outcome.DELETED
        log.info("powerdns.zone_removed", zone=zone, outcome=outcome.value)
        return outcome

    # RRsets --------------------------------------------------------------

    def apply_rrsets(self, zone: str, changes: Sequence[Change]) -> Outcome:
        """Replace or delete whole RRsets of this plane's zone in one PATCH: all or nothing.
        Changes that would change nothing are left out; none left: UNCHANGED, nothing sent."""
        started = time.monotonic()
        zone = canonical_name(zone, what="zone", wildcard=False)
        check_in_zone(zone, changes)
        found = self._own(zone)
        outcome = Outcome.UPDATED if self._patch(found, changes) else Outcome.UNCHANGED
        log.info(
            "powerdns.rrsets_applied",
            zone=zone,
            changes=len(changes),
            outcome=outcome.value,
            elapsed_ms=round((time.monotonic() - started) * 1000, 1),
        )
        return outcome

    def _patch(self, found: ObservedZone, changes: Sequence[Change]) -> bool:
        """Send what `changes` would change in `found` (a SOA replaced keeps the current serial,
        which PowerDNS then increments); whether anything was sent."""
        current = serial(next((r for r in found.rrsets if r.type == "SOA"), _NO_SOA))
        kept = [
            Replace(with_serial(c.rrset, current))
            if isinstance(c, Replace) and c.rrset.type == "SOA"
            else c
            for c in changes
        ]
        wanted = effective(found.rrsets, kept)
        if not wanted:
            return False
        zone = found.zone.name
        self.api.call(
            "PATCH",
            f"/zones/{zone}",
            what=f"the change set for zone {zone} (nothing of it was applied)",
            json={"rrsets": [_change(c) for c in wanted]},
        )
        # PowerDNS purges the zone from its caches inside the PATCH, but a question answered
        # while the change committed can put the old answer back for cache-ttl (20 s) until
        # 4.9 (PowerDNS issue 16286; Debian 12 ships 4.7): purged again once it is committed.
        self.api.call(
            "PUT", "/cache/flush", what=f"the cache of zone {zone}", params={"domain": zone}
        )
        return True


_NO_SOA = RRset("", "SOA", 0, ())
