"""The checks behind Settings' validators that take more than a line: DNS names, addresses.

Each returns the value as Settings keeps it, or raises ValueError (pydantic reports it
against the setting).
"""

from __future__ import annotations

import ipaddress

from hostplane.naming import is_dns_label, is_hostname


def base_domain(value: str) -> str:
    value = value.strip().rstrip(".").lower()
    labels = value.split(".")
    if not value or len(value) > 200 or any(not is_dns_label(part) for part in labels):
        raise ValueError(
            "base domain must be a DNS name such as 'localhost' or 'hosting.example.org'"
        )
    return value


def dns_bind(value: str) -> str:
    parts = [part.strip() for part in value.split(",")]
    try:
        return ", ".join(str(ipaddress.ip_address(part)) for part in parts)
    except ValueError:
        raise ValueError(
            "must be one or more IP addresses, comma-separated, e.g. 127.0.0.1 or 0.0.0.0"
        ) from None


def sftp_bind(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError("must be one IP address, e.g. 127.0.0.1 or 0.0.0.0") from None


def port_range(value: str) -> str:
    """`first-last`, both 1024-65535, first <= last: as `16400-16999`."""
    first, sep, last = value.strip().partition("-")
    if (
        not sep
        or not first.strip().isdigit()
        or not last.strip().isdigit()
        or not 1024 <= int(first) <= int(last) <= 65535
    ):
        raise ValueError(
            "must be a range of ports first-last, both from 1024 to 65535, such as 16400-16999"
        )
    return f"{int(first)}-{int(last)}"


def pdns_api_listen(value: str) -> str:
    host, _, port = value.strip().rpartition(":")
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if not loopback or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(
            "must be a loopback address and port such as 127.0.0.1:8081: PowerDNS's API "
            "must not be reachable from other hosts"
        )
    return value.strip()


def nameservers(value: str) -> str:
    names = [_fqdn(part) for part in value.split(",") if part.strip()]
    if value.strip() and not names:
        raise ValueError("give one or more name server names, e.g. ns1.example.com")
    for name in names:
        if not is_hostname(name.rstrip(".")) or name.endswith(".invalid."):
            raise ValueError(f"{name!r} is not a name server's host name (ns1.example.com)")
    return ",".join(names)


def hostmaster(value: str) -> str:
    local, at, domain = value.strip().rpartition("@")
    if not value.strip():
        return ""
    if not at:
        local, _, domain = value.strip().partition(".")
    if not is_dns_label(local.lower()) or not is_hostname(domain.rstrip(".").lower()):
        raise ValueError(
            "must be an address such as hostmaster@example.com (no dot before the @: a "
            "SOA record cannot carry one portably)"
        )
    return f"{local.lower()}@{domain.rstrip('.').lower()}"


def _fqdn(name: str) -> str:
    return name.strip().rstrip(".").lower() + "."
