"""ACME DNS-01 challenges in one of this plane's PowerDNS zones (a TxtChallenges for
providers/acme/issuer.py): the TXT RRsets of an order written in one PATCH, confirmed answered
over DNS by that PowerDNS before the CA is told to look, and deleted when the order ends.

PowerDnsApi knows the HTTP API only, so where PowerDNS answers DNS is given here (Hostplane's
own server: dnsprobe.reachable_address of the first HOSTPLANE_DNS_BIND address, on
HOSTPLANE_DNS_PORT)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import structlog

from hostplane.errors import TemporaryError
from hostplane.providers.powerdns import dnsprobe
from hostplane.providers.powerdns import rrsets as r
from hostplane.providers.powerdns.api import PowerDnsApi
from hostplane.providers.powerdns.names import canonical_name

log = structlog.get_logger(__name__)

TTL = 60  # short: a resolver that asked before publishing forgets its answer soon


class PowerDnsTxtChallenges:
    """The `_acme-challenge` TXT RRsets of `zone` (this plane's) on PowerDNS."""

    def __init__(
        self,
        api: PowerDnsApi,
        zone: str,
        *,
        dns_host: str,
        dns_port: int,
        ttl: int = TTL,
        timeout: float = 30.0,
    ) -> None:
        self.api = api
        self.zone = canonical_name(zone, what="zone", wildcard=False)
        self.dns_host = dns_host
        self.dns_port = dns_port
        self.ttl = r.check_ttl(ttl)
        self.timeout = timeout

    def publish(self, records: Mapping[str, Sequence[str]]) -> None:
        """Every name's TXT RRset replaced by exactly its values, all in one PATCH; returns once
        PowerDNS answers them all over DNS (TemporaryError if it does not within `timeout`)."""
        changes: list[r.Change] = []
        expected: dict[str, frozenset[str]] = {}
        for name, values in records.items():
            item = r.rrset(self.zone, name, "TXT", self.ttl, list(values))
            changes.append(r.Replace(item))
            expected[item.name] = frozenset(values)
        if not changes:
            return
        self.api.apply_rrsets(self.zone, changes)
        self._confirm(expected)
        log.info("powerdns.acme_published", zone=self.zone, names=sorted(expected))

    def withdraw(self, names: Sequence[str]) -> None:
        """These names' TXT RRsets deleted in one PATCH; absent ones are fine."""
        deletes = {d.key: d for d in (r.delete(self.zone, name, "TXT") for name in names)}
        changes: list[r.Change] = list(deletes.values())
        if changes:
            outcome = self.api.apply_rrsets(self.zone, changes)
            log.info(
                "powerdns.acme_withdrawn", zone=self.zone, names=list(names), outcome=outcome.value
            )

    def _confirm(self, expected: Mapping[str, frozenset[str]]) -> None:
        deadline = time.monotonic() + self.timeout
        waiting = dict(expected)
        seen: frozenset[str] | str = ""
        while True:
            for name, values in list(waiting.items()):
                seen = dnsprobe.txt_texts(self.dns_host, self.dns_port, name)
                if seen == values:
                    del waiting[name]
                else:
                    break
            if not waiting:
                return
            if time.monotonic() > deadline:
                name = next(iter(waiting))
                got = seen if isinstance(seen, str) else f"it answers {sorted(seen) or 'no TXT'}"
                raise TemporaryError(
                    f"PowerDNS at {self.dns_host}:{self.dns_port} does not answer the ACME "
                    f"DNS-01 TXT record {name} {self.timeout:g} s after it was written",
                    detail=got,
                )
            time.sleep(0.1)
