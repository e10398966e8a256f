"""Site names: DNS labels, with a few names kept for the platform itself."""

from __future__ import annotations

import re

from hostplane.domain.errors import ValidationError

SITE_NAME_MAX = 63
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")

RESERVED_SITE_NAMES = frozenset(
    {
        "www",
        "api",
        "admin",
        "app",
        "mail",
        "smtp",
        "imap",
        "pop",
        "ftp",
        "ns",
        "ns1",
        "ns2",
        "dns",
        "localhost",
        "hostplane",
        "root",
        "edge",
        "status",
        "metrics",
        "health",
        "dashboard",
        "static",
        "assets",
        "cdn",
        "autoconfig",
        "autodiscover",
        "wpad",
        "xn--",
    }
)


def is_dns_label(value: str) -> bool:
    return bool(_LABEL.fullmatch(value))


def validate_site_name(name: str) -> str:
    """Return the name if it is a usable site name, else raise ValidationError saying why."""
    if not isinstance(name, str) or not name:
        raise ValidationError("site name is empty: give 1-63 lowercase letters, digits or hyphens")
    if len(name) > SITE_NAME_MAX:
        raise ValidationError(
            f"site name is {len(name)} characters long: the limit is {SITE_NAME_MAX}"
        )
    if name != name.lower():
        raise ValidationError(f"site name {name!r} has uppercase letters: use lowercase")
    if not is_dns_label(name):
        raise ValidationError(
            f"site name {name!r} is not a DNS label: use lowercase letters, digits and "
            "hyphens, not starting or ending with a hyphen"
        )
    if name in RESERVED_SITE_NAMES or name.startswith("xn--"):
        raise ValidationError(f"site name {name!r} is reserved for the platform: choose another")
    return name
