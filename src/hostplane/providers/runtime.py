"""The runtime protocol: where a site's files and processes live.

`local` keeps them on this host (webroot, PHP-FPM pool); `docker` in a volume
and containers. Each mutation is idempotent and returns an Outcome. The edge
routes to whatever `upstream(spec)` says, derived from the spec alone.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from hostplane.providers.base import Outcome


class SiteType(enum.StrEnum):
    STATIC = "static"
    PHP = "php"
    WORDPRESS = "wordpress"


class RuntimeKind(enum.StrEnum):
    LOCAL = "local"
    DOCKER = "docker"


# The members by value: what SiteType(value) returns, in a dict lookup rather than an Enum
# call (the reconciler and the edge's derive convert two per site, for thousands of them).
_SITE_TYPES = {member.value: member for member in SiteType}
_RUNTIMES = {member.value: member for member in RuntimeKind}


def site_type(value: str) -> SiteType:
    """SiteType(value); ValueError when it is none."""
    try:
        return _SITE_TYPES[value]
    except KeyError:
        raise ValueError(f"{value!r} is not a valid SiteType") from None


def runtime_kind(value: str) -> RuntimeKind:
    """RuntimeKind(value); ValueError when it is none."""
    try:
        return _RUNTIMES[value]
    except KeyError:
        raise ValueError(f"{value!r} is not a valid RuntimeKind") from None


@dataclass(frozen=True, slots=True)
class SiteSpec:
    """Everything a provider needs to know about one site; derived from the database."""

    name: str
    type: SiteType
    runtime: RuntimeKind
    hostname: str
    port: int | None = None  # loopback port of the site's own web server, where it has one
    admin_email: str | None = None
    url: str = ""  # where the site is reached through the edge, e.g. http://blog.localhost
    # Its tenant (the owner of its files and processes): name, system user, and the site the
    # tenant was made for, if any. Unset: a tenant of the site's own, named after it.
    tenant: str = ""
    tenant_user: str = ""
    tenant_made_for: str | None = None
    php_workers: int | None = None  # its PHP's most workers at once (the tenant's plan)


@dataclass(frozen=True, slots=True)
class StaticFiles:
    """The edge serves files from `root` itself."""

    root: str


@dataclass(frozen=True, slots=True)
class FastCGI:
    """The edge speaks FastCGI to PHP-FPM at `dial` (``unix//path`` or ``host:port``)."""

    root: str
    dial: str


@dataclass(frozen=True, slots=True)
class HTTPProxy:
    """The edge proxies HTTP to `dial` (``127.0.0.1:port``)."""

    dial: str


Upstream = StaticFiles | FastCGI | HTTPProxy


@dataclass(frozen=True, slots=True)
class SiteSecrets:
    """What a WordPress or PHP site's config needs; never logged, never a workflow input."""

    db_name: str
    db_user: str
    db_password: str
    db_host: str
    salts: dict[str, str]


class SiteRuntime(Protocol):
    kind: RuntimeKind
    supported_types: frozenset[SiteType]

    def ensure_files(self, spec: SiteSpec, secrets: SiteSecrets | None) -> Outcome: ...

    def remove_files(self, spec: SiteSpec) -> Outcome: ...

    def ensure_app(self, spec: SiteSpec) -> Outcome: ...

    def remove_app(self, spec: SiteSpec) -> Outcome: ...

    def ensure_web(self, spec: SiteSpec) -> Outcome: ...

    def remove_web(self, spec: SiteSpec) -> Outcome: ...

    def upstream(self, spec: SiteSpec) -> Upstream: ...
