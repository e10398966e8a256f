"""One DNS question to a server: whether it answers at all, and whether it answers for a zone
as its authority (readiness of the managed PowerDNS, `hostctl doctor`)."""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype


def reachable_address(bind: str) -> str:
    """Where to ask a server bound to `bind` (a wildcard address: through loopback)."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(bind, bind)


def ask(
    host: str, port: int, name: str, rtype: str = "SOA", timeout: float = 1.0
) -> dns.message.Message:
    """The server's answer over UDP; dns.exception.DNSException when there is none."""
    query = dns.message.make_query(name, rtype)
    return dns.query.udp(query, host, port=port, timeout=timeout)


def answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether anything answers DNS there (a refusal is an answer)."""
    try:
        ask(host, port, ".", timeout=timeout)
    except (dns.exception.DNSException, OSError):
        return False
    return True


def serves_zone(host: str, port: int, zone: str, timeout: float = 2.0) -> str | None:
    """None when the server answers the zone's SOA with authority; what is wrong otherwise."""
    where = f"{host}:{port}"
    try:
        response = ask(host, port, zone, timeout=timeout)
    except (dns.exception.DNSException, OSError) as exc:
        return f"no DNS answer from {where} ({type(exc).__name__}: {exc})"
    if response.rcode() != dns.rcode.NOERROR:
        return f"{where} answers {dns.rcode.to_text(response.rcode())} for {zone} SOA"
    if not response.flags & dns.flags.AA:
        return f"{where} answers {zone} SOA without authority (not its zone)"
    if not any(rrset.rdtype == dns.rdatatype.SOA for rrset in response.answer):
        return f"{where} answers no SOA for {zone}"
    return None


def txt_texts(host: str, port: int, name: str, timeout: float = 1.0) -> frozenset[str] | str:
    """The TXT texts (each record's strings joined) the server answers for `name` with
    authority, none when it has no such RRset; what is wrong when it answers otherwise."""
    where = f"{host}:{port}"
    try:
        response = ask(host, port, name, "TXT", timeout=timeout)
    except (dns.exception.DNSException, OSError) as exc:
        return f"no DNS answer from {where} ({type(exc).__name__}: {exc})"
    if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return f"{where} answers {dns.rcode.to_text(response.rcode())} for {name} TXT"
    if not response.flags & dns.flags.AA:
        return f"{where} answers {name} TXT without authority (not its zone)"
    return frozenset(
        b"".join(rdata.strings).decode("utf-8", errors="replace")
        for rrset in response.answer
        if rrset.rdtype == dns.rdatatype.TXT
        for rdata in rrset
    )
