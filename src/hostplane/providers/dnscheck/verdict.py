"""Is a domain's DNS right? The verdict on what resolvers answered (pure: no lookups here).

Every address a name resolves to (after CNAMEs) must point at the platform: one of its public
IPs, or — when the platform sits behind Cloudflare — into Cloudflare's published ranges. Private,
loopback and link-local answers are refused unless explicitly allowed (a lab, a test).
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class DnsMode(enum.StrEnum):
    PUBLIC_IPS = "ips"
    CLOUDFLARE = "cloudflare"


@dataclass(frozen=True, slots=True)
class DnsAnswer:
    """What the resolvers said for one name: the CNAME chain and the final addresses."""

    name: str
    cnames: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DnsExpectation:
    mode: DnsMode
    public_ips: frozenset[IPAddress] = frozenset()
    cloudflare_ranges: tuple[IPNetwork, ...] = ()
    allow_private: bool = False

    def describe(self) -> str:
        if self.mode is DnsMode.CLOUDFLARE:
            return "A/AAAA records (or a CNAME to them) inside Cloudflare's IP ranges"
        ips = ", ".join(sorted(str(ip) for ip in self.public_ips)) or "(none configured)"
        return f"A/AAAA records (or a CNAME to them) pointing only at {ips}"


@dataclass(frozen=True, slots=True)
class DnsVerdict:
    ok: bool
    found: tuple[str, ...]
    expected: str
    problems: tuple[str, ...] = field(default=())

    def explain(self) -> str:
        found = ", ".join(self.found) or "nothing"
        if self.ok:
            return f"DNS is right: {found}"
        problems = "; ".join(self.problems)
        return f"DNS is not right yet ({problems}): found {found}; expected {self.expected}"


def parse_ips(values: Iterable[str]) -> frozenset[IPAddress]:
    return frozenset(ipaddress.ip_address(v.strip()) for v in values if v.strip())


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(
        ipaddress.ip_network(v.strip(), strict=False)
        for v in values
        if v.strip() and not v.strip().startswith("#")
    )


def _special(ip: IPAddress) -> str | None:
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_private:
        return "private"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return "not routable"
    return None


def evaluate(answer: DnsAnswer, expectation: DnsExpectation) -> DnsVerdict:
    found = tuple([*(f"CNAME {c}" for c in answer.cnames), *answer.addresses])
    problems: list[str] = []
    if not answer.addresses:
        problems.append(f"{answer.name} has no A or AAAA record")
    for text in answer.addresses:
        ip = ipaddress.ip_address(text)
        kind = _special(ip)
        if kind and not expectation.allow_private:
            problems.append(f"{text} is a {kind} address")
            continue
        if expectation.mode is DnsMode.CLOUDFLARE:
            if not _in_any(ip, expectation.cloudflare_ranges):
                problems.append(f"{text} is not a Cloudflare address")
        elif ip not in expectation.public_ips:
            problems.append(f"{text} is not one of the platform's addresses")
    return DnsVerdict(not problems, found, expectation.describe(), tuple(problems))


def _in_any(ip: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    return any(ip.version == net.version and ip in net for net in networks)
