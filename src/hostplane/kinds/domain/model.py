"""What a custom domain is (pure): its lifecycle and operations, and what a valid name is, in
the ASCII form every config is written with.

A domain is normalized with IDNA 2008 + UTS #46 (the mapping browsers use), so `WWW.Exämple.org`
and `www.xn--exmple-cua.org` are one domain, then checked as letters-digits-hyphen labels. What
comes out can be written into a Caddy, nginx or YAML file as is: only a-z, 0-9, '-' and '.'.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import re
import unicodedata
from collections.abc import Mapping

import idna
from publicsuffixlist import PublicSuffixList

from hostplane.errors import NotFoundError, ValidationError
from hostplane.kernel.lifecycle import Lifecycle

KIND = "domain"
PARENT = "site"
DOMAIN_MAX = 253
LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class DomainStatus(enum.StrEnum):
    PENDING = "PENDING"
    VALIDATING = "VALIDATING"
    ROUTING = "ROUTING"
    ACTIVE = "ACTIVE"
    REMOVING = "REMOVING"
    REMOVED = "REMOVED"
    FAILED = "FAILED"


D = DomainStatus
DOMAIN_TRANSITIONS: Mapping[str, frozenset[str]] = {
    D.PENDING: frozenset({D.VALIDATING, D.REMOVING, D.FAILED}),
    D.VALIDATING: frozenset({D.ROUTING, D.PENDING, D.FAILED}),
    D.ROUTING: frozenset({D.ACTIVE, D.FAILED}),
    D.ACTIVE: frozenset({D.REMOVING, D.FAILED}),
    D.REMOVING: frozenset({D.REMOVED, D.FAILED}),
    D.FAILED: frozenset({D.PENDING, D.REMOVING}),
    D.REMOVED: frozenset(),
}
LIFECYCLE = Lifecycle(KIND, DOMAIN_TRANSITIONS)
LIVE = frozenset(set(DomainStatus) - {D.REMOVED})
# The states in which the edge (and the tunnel) serve a domain.
ROUTED = frozenset({D.ROUTING, D.ACTIVE})


class DomainOp(enum.StrEnum):
    ADD = "domain-add"
    REMOVE = "domain-remove"


class Step(enum.StrEnum):
    DNS = "dns"  # DNS points at the platform (checked again with backoff until it does)
    ROUTE = "route"  # the edge routes the domain to its site
    TUNNEL = "tunnel"  # the tunnel carries it (when a tunnel is configured)
    # The certificate step (name "certificate") is the certificate kind's.
    CERTIFICATE = "certificate"


# What a domain's text may hold, as published in the API's schema: at least two labels, none of
# the characters of a URL, a port or a path. JSON Schema cannot say the rest (IDNA and UTS #46
# mapping, punycode that decodes, scripts not mixed, not the base domain): normalize_domain does.
_LABELS = r"[^\s/\\:@*?#\[\]{}()<>\"'`;,|$&=%!^~+.]+"
DOMAIN_TEXT_PATTERN = rf"^(\*\.)?{_LABELS}(\.{_LABELS})+\.?$"
DOMAIN_TEXT_HINT = (
    "a domain name such as www.example.org (letters, digits, hyphens and dots; no scheme, "
    "port, path or spaces), or a wildcard such as *.example.org"
)


WILDCARD = "*."
# What a request to a wildcard domain is checked with (DNS, the edge's route, its certificate):
# one name the wildcard covers.
PROBE_LABEL = "hostplane-probe"


def is_wildcard(name: str) -> bool:
    return name.startswith(WILDCARD)


def probe_host(name: str) -> str:
    """A concrete name `name` covers: itself, or for `*.example.org` one name under it."""
    return PROBE_LABEL + name[1:] if is_wildcard(name) else name


def normalize_domain(raw: str, *, base_domain: str) -> str:
    """The domain in lowercase ASCII (punycode), or ValidationError saying what to fix; a
    leading `*.` (every name one label under the rest) is kept when the rest is a domain that
    is not a public suffix."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValidationError("domain is empty: give a name such as www.example.org")
    if raw.strip().startswith(WILDCARD):
        rest = normalize_domain(raw.strip()[2:], base_domain=base_domain)
        if is_wildcard(rest):
            raise ValidationError(f"{raw!r}: only the first label of a domain may be '*'")
        if _suffixes().is_public(rest):
            raise ValidationError(
                f"{raw!r} would cover every name under the public suffix {rest}: a wildcard "
                "covers names under a domain of your own, such as *.example.org"
            )
        return WILDCARD + rest
    text = raw.strip()
    if text.endswith("."):
        text = text[:-1]  # the root label, as in 'example.org.'
    if any(
        ch.isspace() or ch in "/\\:@*?#[]{}()<>\"'`;,|$&=%!^~+" or ord(ch) < 32 or ch == "\x7f"
        for ch in text
    ):
        raise ValidationError(
            f"{raw!r} is not a domain name: only letters, digits, hyphens and dots are allowed "
            "(no scheme, port, path, wildcard or spaces)"
        )
    try:
        ascii_name = idna.encode(text, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValidationError(
            f"{raw!r} is not a valid internationalized domain name: {exc}"
        ) from exc
    ascii_name = ascii_name.lower()
    if len(ascii_name) > DOMAIN_MAX:
        raise ValidationError(f"{raw!r} is {len(ascii_name)} characters long: the limit is 253")
    labels = ascii_name.split(".")
    if len(labels) < 2:
        raise ValidationError(f"{raw!r} has no dot: give a full name such as www.example.org")
    for label in labels:
        if not LABEL_RE.fullmatch(label):
            raise ValidationError(
                f"{raw!r} has the label {label!r}: labels are 1-63 letters, digits or hyphens, "
                "not starting or ending with a hyphen"
            )
        if label.startswith("xn--"):
            try:
                decoded = idna.decode(label)
            except (idna.IDNAError, UnicodeError) as exc:
                raise ValidationError(f"{raw!r} has a broken punycode label {label!r}") from exc
            _refuse_mixed_scripts(raw, decoded)
    if labels[-1].isdigit():
        raise ValidationError(f"{raw!r} looks like an IP address: give a domain name")
    _refuse_ip(raw, ascii_name)
    base = base_domain.lower().rstrip(".")
    if ascii_name == base or ascii_name.endswith("." + base):
        raise ValidationError(
            f"{ascii_name} is under the platform's base domain {base}: sites already have "
            f"<name>.{base}; attach a domain of your own"
        )
    return ascii_name


# Scripts that may share a label (UTS #39, "highly restrictive"): Japanese, Chinese, Korean
# with Latin; any other mix is how look-alikes are made (a Cyrillic a, U+0430, in an
# otherwise Latin 'apple.com').
ALLOWED_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)


def _script(ch: str) -> str | None:
    """The script of a letter (from its Unicode name); None for digits, hyphens and marks."""
    if ch.isascii():
        return "LATIN" if ch.isalpha() else None
    name = unicodedata.name(ch, "")
    if not name or name.startswith("COMBINING") or unicodedata.category(ch).startswith("M"):
        return None
    if name.startswith("CJK"):
        return "HAN"
    if name.startswith("KATAKANA-HIRAGANA"):
        return "KATAKANA"
    return name.split(" ")[0]


def _refuse_mixed_scripts(raw: str, label: str) -> None:
    scripts = {s for s in map(_script, label) if s is not None}
    if len(scripts) <= 1 or any(scripts <= allowed for allowed in ALLOWED_MIXES):
        return
    mixed = " and ".join(sorted(s.title() for s in scripts))
    raise ValidationError(
        f"{raw!r} mixes scripts in the label {label!r} ({mixed}): such names imitate others "
        "(Cyrillic \u0430 for Latin a); write each label in one script"
    )


@functools.cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the list the package ships (private suffixes included)


def registrable_domain(name: str) -> str:
    """The name one owner registers (`example.co.uk` for `www.shop.example.co.uk`, by the Public
    Suffix List, whose private suffixes such as `github.io` count as public: two names below one
    are two owners'). A name that is itself a public suffix is its own; a wildcard's is the
    rest's. `name`: normalized."""
    name = name.removeprefix(WILDCARD)
    return _suffixes().privatesuffix(name) or name


def named_domain(raw: str, *, base_domain: str) -> str:
    """The domain a request names (in its path) to look it up: a name that cannot be a domain
    names none (404, saying why), where a domain given to be added is invalid input (422)."""
    try:
        return normalize_domain(raw, base_domain=base_domain)
    except ValidationError as exc:
        raise NotFoundError(f"no domain is named {raw!r}: {exc}") from None


def _refuse_ip(raw: str, name: str) -> None:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return
    raise ValidationError(f"{raw!r} is an IP address: give a domain name")


def display_name(ascii_name: str) -> str:
    """The Unicode form of a normalized domain, for people."""
    try:
        return idna.decode(ascii_name)
    except (idna.IDNAError, UnicodeError):
        return ascii_name
