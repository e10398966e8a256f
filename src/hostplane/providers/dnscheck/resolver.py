"""Ask resolvers what a name points at: the CNAME chain and the final A/AAAA addresses.

Resolvers come from HOSTPLANE_DNS_RESOLVERS (`ip` or `ip:port`, comma-separated) or, when unset,
from the system's resolv.conf. NXDOMAIN and empty answers are answers (nothing found); timeouts
and server failures are temporary errors, worth a later re-check.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from importlib import resources

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from hostplane.domain.dns import DnsAnswer, IPNetwork, parse_networks
from hostplane.domain.errors import ValidationError
from hostplane.providers.base import TemporaryError


def parse_resolvers(spec: str) -> list[tuple[str, int]]:
    """`1.1.1.1, 127.0.0.1:5353, [::1]:53` → [(ip, port), …]."""
    out: list[tuple[str, int]] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        host, port = item, 53
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") else 53
        elif item.count(":") == 1:
            host, _, port_text = item.partition(":")
            port = int(port_text) if port_text.isdigit() else -1
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValidationError(
                f"resolver {item!r} is not an IP address (ip or ip:port)"
            ) from None
        if not 0 < port < 65536:
            raise ValidationError(f"resolver {item!r} has no valid port")
        out.append((host, port))
    return out


def cloudflare_ranges() -> tuple[IPNetwork, ...]:
    text = resources.files("hostplane.data").joinpath("cloudflare-ips.txt").read_text()
    return parse_networks(text.splitlines())


class DnsChecker:
    def __init__(self, resolvers: Sequence[tuple[str, int]] = (), timeout: float = 3.0) -> None:
        self.resolvers = list(resolvers)
        self.timeout = timeout

    def _resolver(self, host: str, port: int) -> dns.resolver.Resolver:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = port
        resolver.lifetime = self.timeout
        return resolver

    def _resolvers(self) -> list[dns.resolver.Resolver]:
        if self.resolvers:
            return [self._resolver(h, p) for h, p in self.resolvers]
        system = dns.resolver.Resolver()
        system.lifetime = self.timeout
        return [system]

    def lookup(self, name: str) -> DnsAnswer:
        """What every configured resolver says, merged: a split answer shows all addresses."""
        cnames: list[str] = []
        addresses: list[str] = []
        for resolver in self._resolvers():
            for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                try:
                    answer = resolver.resolve(name, rdtype, search=False)
                except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                    continue
                except dns.resolver.NoNameservers as exc:
                    raise TemporaryError(
                        f"no resolver answered for {name}", detail=str(exc)
                    ) from exc
                except dns.exception.Timeout as exc:
                    raise TemporaryError(
                        f"DNS lookup of {name} timed out", detail=str(exc)
                    ) from exc
                chain = answer.chaining_result.cnames
                for rrset in chain:
                    for rdata in rrset:
                        target = rdata.target.to_text(omit_final_dot=True)
                        if target not in cnames:
                            cnames.append(target)
                for rdata in answer:
                    if rdata.address not in addresses:
                        addresses.append(rdata.address)
        return DnsAnswer(name=name, cnames=tuple(cnames), addresses=tuple(addresses))
