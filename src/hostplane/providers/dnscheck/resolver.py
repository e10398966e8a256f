"""Ask resolvers what a name points at: the CNAME chain and the final A/AAAA addresses.

Resolvers come from HOSTPLANE_DNS_RESOLVERS (`ip` or `ip:port`, comma-separated) or, when unset,
from the system's resolv.conf. NXDOMAIN and empty answers are answers (nothing found); timeouts
and server failures are temporary errors, worth a later re-check.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver
import httpx

from hostplane.errors import ValidationError
from hostplane.providers.base import PermanentError, TemporaryError
from hostplane.providers.dnscheck.verdict import DnsAnswer, IPNetwork, parse_networks
from hostplane.providers.fs import atomic_write


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


CLOUDFLARE_FILE = "cloudflare-ips.txt"
CLOUDFLARE_URLS = ("https://www.cloudflare.com/ips-v4", "https://www.cloudflare.com/ips-v6")


def cloudflare_ranges(data_dir: Path | None = None) -> tuple[IPNetwork, ...]:
    """The refreshed list in the data directory when there is one, else the shipped one."""
    refreshed = data_dir / CLOUDFLARE_FILE if data_dir is not None else None
    if refreshed is not None and refreshed.exists():
        text = refreshed.read_text()
    else:
        text = resources.files("hostplane.data").joinpath(CLOUDFLARE_FILE).read_text()
    return parse_networks(text.splitlines())


def refresh_cloudflare_ranges(
    data_dir: Path, urls: Sequence[str] = CLOUDFLARE_URLS, timeout: float = 15.0
) -> tuple[IPNetwork, ...]:
    """Fetch Cloudflare's published lists and keep them in the data directory. Every line must
    be a network and each list must be non-empty, or nothing is written."""
    networks: list[IPNetwork] = []
    for url in urls:
        try:
            resp = httpx.get(url, timeout=timeout, follow_redirects=True)
        except httpx.HTTPError as exc:
            raise TemporaryError(
                f"cannot fetch Cloudflare's ranges from {url}", detail=str(exc)
            ) from exc
        if resp.status_code != 200:
            raise TemporaryError(
                f"cannot fetch Cloudflare's ranges from {url}", detail=f"HTTP {resp.status_code}"
            )
        try:
            found = parse_networks(resp.text.splitlines())
        except ValueError as exc:
            raise PermanentError(
                f"{url} did not answer with a list of networks", detail=str(exc)
            ) from exc
        if not found:
            raise PermanentError(f"{url} answered with an empty list: kept the current ranges")
        networks.extend(found)
    body = "# Cloudflare's ranges, fetched by hostctl dns refresh-cloudflare-ranges from\n"
    body += "".join(f"#   {url}\n" for url in urls)
    body += "".join(f"{net}\n" for net in networks)
    atomic_write(data_dir / CLOUDFLARE_FILE, body)
    return tuple(networks)


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
