"""Record content per type, validated and written in the one spelling PowerDNS accepts (its API
refuses content "not in expected format", e.g. an address with leading zeros). Pure.

`from_value(type, value)` takes what a user writes (for TXT the text itself, quoted here; for CAA
the value quoted or not); `canonical(type, content)` takes content in PowerDNS's syntax, as the
API returns it, so that desired and observed content compare equal when they mean the same.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from hostplane.errors import ValidationError
from hostplane.providers.powerdns import txt
from hostplane.providers.powerdns.names import canonical_name, target_name

SUPPORTED_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "SRV", "TXT", "CAA")
_CAA_TAG = re.compile(r"^[a-z0-9]{1,15}$")


def _number(field: str, what: str, maximum: int) -> int:
    if not field.isascii() or not field.isdigit() or int(field) > maximum:
        raise ValidationError(f"{what} must be a whole number from 0 to {maximum}, not {field!r}")
    return int(field)


def _fields(value: str, count: int, rtype: str, syntax: str) -> list[str]:
    parts = value.split()
    if len(parts) != count:
        raise ValidationError(f"{rtype} value {value!r} must be {syntax}")
    return parts


def _a(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value.strip()))
    except ValueError:
        raise ValidationError(
            f"A value {value!r} is not an IPv4 address (four numbers 0-255, no leading zeros)"
        ) from None


def _aaaa(value: str) -> str:
    try:
        address = ipaddress.IPv6Address(value.strip())
    except ValueError:
        raise ValidationError(f"AAAA value {value!r} is not an IPv6 address") from None
    if address.scope_id is not None:
        raise ValidationError(f"AAAA value {value!r} has a zone index (%...): leave it out")
    if address.ipv4_mapped is not None:
        raise ValidationError(
            f"AAAA value {value!r} is an IPv4-mapped address: use an A record for "
            f"{address.ipv4_mapped}"
        )
    return address.compressed


def _cname(value: str) -> str:
    return target_name(value, what=f"CNAME target {value!r}")


def _ns(value: str) -> str:
    return target_name(value, what=f"NS host {value!r}")


def _mx(value: str) -> str:
    preference, host = _fields(value, 2, "MX", "'PREFERENCE HOST', e.g. '10 mail.example.com.'")
    pref = _number(preference, "MX preference", 65535)
    return f"{pref} {target_name(host, what=f'MX host {host!r}', root_allowed=True)}"


def _srv(value: str) -> str:
    syntax = "'PRIORITY WEIGHT PORT TARGET', e.g. '10 5 5060 sip.example.com.'"
    priority, weight, port, target = _fields(value, 4, "SRV", syntax)
    numbers = [
        _number(field, f"SRV {what}", 65535)
        for field, what in ((priority, "priority"), (weight, "weight"), (port, "port"))
    ]
    host = target_name(target, what=f"SRV target {target!r}", root_allowed=True)
    return " ".join([*map(str, numbers), host])


def _caa(value: str) -> str:
    parts = value.strip().split(None, 2)
    if len(parts) != 3:
        raise ValidationError(
            f"CAA value {value!r} must be 'FLAGS TAG VALUE', e.g. '0 issue \"letsencrypt.org\"'"
        )
    flags, tag, data = parts
    number = _number(flags, "CAA flags", 255)
    tag = tag.lower()
    if not _CAA_TAG.fullmatch(tag):
        raise ValidationError(
            f"CAA tag {parts[1]!r} must be 1-15 letters or digits (issue, issuewild, iodef)"
        )
    if data.startswith('"'):
        strings = txt.parse(data)
        if len(strings) != 1:
            raise ValidationError(f"CAA value {data!r} must be one quoted string")
        raw = strings[0]
    else:
        raw = data.encode("utf-8")
    return f"{number} {tag} {txt.quote(raw)}"


@dataclass(frozen=True, slots=True)
class Soa:
    mname: str
    rname: str
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int

    @property
    def content(self) -> str:
        return (
            f"{self.mname} {self.rname} {self.serial} {self.refresh} {self.retry} "
            f"{self.expire} {self.minimum}"
        )

    def without_serial(self) -> tuple[object, ...]:
        return (self.mname, self.rname, self.refresh, self.retry, self.expire, self.minimum)


def soa(content: str) -> Soa:
    syntax = "'MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM'"
    mname, rname, *numbers = _fields(content, 7, "SOA", syntax)
    serial, refresh, retry, expire, minimum = (
        _number(field, "a SOA number", 2**32 - 1) for field in numbers
    )
    return Soa(
        canonical_name(mname, what="SOA primary name server", wildcard=False),
        canonical_name(rname, what="SOA hostmaster", wildcard=False),
        serial,
        refresh,
        retry,
        expire,
        minimum,
    )


def _soa(value: str) -> str:
    return soa(value).content


_BY_TYPE: dict[str, Callable[[str], str]] = {
    "A": _a,
    "AAAA": _aaaa,
    "CNAME": _cname,
    "NS": _ns,
    "MX": _mx,
    "SRV": _srv,
    "CAA": _caa,
    "TXT": txt.canonical_txt,
    "SOA": _soa,
}


def from_value(rtype: str, value: str) -> str:
    """The content of a `rtype` record whose value a user wrote as `value`."""
    if rtype == "TXT":
        return txt.txt_content(value)
    return canonical(rtype, value)


def canonical(rtype: str, content: str) -> str:
    """`content` of a `rtype` record in the spelling this provider writes."""
    check = _BY_TYPE.get(rtype)
    if check is None:
        raise ValidationError(
            f"record type {rtype!r} is not supported: use one of {', '.join(SUPPORTED_TYPES)}"
        )
    return check(content)


def observed(rtype: str, content: str) -> str:
    """Content read from PowerDNS, in this provider's spelling when it can be parsed, as it is
    otherwise (a type this provider does not write, or content someone wrote by hand)."""
    try:
        return canonical(rtype, content)
    except ValidationError:
        return content.strip()
