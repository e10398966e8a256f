"""DNS names as PowerDNS stores them: lowercase ASCII (IDNA for other scripts), absolute, with
the trailing dot. Pure."""

from __future__ import annotations

import re

import idna

from hostplane.errors import ValidationError

MAX_NAME = 253  # characters without the trailing dot (RFC 1035: 255 octets on the wire)
# Letters, digits, hyphens and underscores (service labels: _dmarc, _sip._tcp, _acme-challenge);
# no hyphen at either end.
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


def canonical_name(name: str, *, what: str = "name", wildcard: bool = True) -> str:
    """`name` absolute, lowercase and ASCII, e.g. 'Bücher.Example' -> 'xn--bcher-kva.example.'.

    A trailing dot is optional: every name is taken as a full name. `*` may be the first label
    when `wildcard` is set."""
    raw = name.strip()
    text = raw[:-1] if raw.endswith(".") else raw
    if not text:
        raise ValidationError(f"{what} is empty: give a full DNS name such as www.example.com")
    labels = text.split(".")
    out = [
        _label(label, raw, what, wildcard=wildcard and index == 0)
        for index, label in enumerate(labels)
    ]
    result = ".".join(out)
    if len(result) > MAX_NAME:
        raise ValidationError(
            f"{what} {raw!r} is {len(result)} characters long: DNS allows at most {MAX_NAME}"
        )
    return result + "."


def _label(label: str, raw: str, what: str, *, wildcard: bool) -> str:
    if not label:
        raise ValidationError(f"{what} {raw!r} has an empty label (two dots in a row)")
    if label == "*":
        if wildcard:
            return label
        raise ValidationError(
            f"{what} {raw!r}: '*' is only allowed as the first label of a record's name"
        )
    if label.isascii():
        ascii_label = label.lower()
        if ascii_label.startswith("xn--"):
            _check_punycode(ascii_label, raw, what)
    else:
        try:
            ascii_label = idna.encode(label, uts46=True, transitional=False).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise ValidationError(
                f"{what} {raw!r}: label {label!r} is not a valid internationalized label ({exc})"
            ) from None
    if not _LABEL.fullmatch(ascii_label):
        raise ValidationError(
            f"{what} {raw!r}: label {label!r} must be 1-63 letters, digits, hyphens or "
            "underscores, not starting or ending with a hyphen"
        )
    return ascii_label


def _check_punycode(label: str, raw: str, what: str) -> None:
    try:
        idna.decode(label)
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValidationError(f"{what} {raw!r}: {label!r} is not valid punycode ({exc})") from None


def in_zone(name: str, zone: str) -> bool:
    """Whether the canonical `name` is the canonical `zone` or under it."""
    return name == zone or name.endswith("." + zone)


def owner_name(name: str, zone: str) -> str:
    """A record's canonical name, which must be inside `zone` ('@' is the zone itself)."""
    zone = canonical_name(zone, what="zone", wildcard=False)
    if name.strip() == "@":
        return zone
    owner = canonical_name(name, what="record name")
    if not in_zone(owner, zone):
        raise ValidationError(
            f"record name {name!r} is not inside zone {zone}: give a full name ending in "
            f"{zone.rstrip('.')} (for example www.{zone.rstrip('.')}), or '@' for the zone itself"
        )
    return owner


def target_name(value: str, *, what: str, root_allowed: bool = False) -> str:
    """A name a record points to (CNAME, NS, MX, SRV), absolute; '.' (nothing, RFC 7505 and
    RFC 2782) only where `root_allowed`."""
    if value.strip() == ".":
        if root_allowed:
            return "."
        raise ValidationError(f"{what} cannot be '.': give a host name")
    return canonical_name(value, what=what, wildcard=False)
