"""What a site is, what the edge routes it to, and which steps build it.

One skeleton serves every site type and runtime: `provision_plan` picks the
steps a site needs, in order; destroy runs their undo in reverse.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class SiteType(enum.StrEnum):
    STATIC = "static"
    PHP = "php"
    WORDPRESS = "wordpress"


class RuntimeKind(enum.StrEnum):
    LOCAL = "local"
    DOCKER = "docker"


class Step(enum.StrEnum):
    """Steps of the site workflow, in the order they run."""

    DOMAINS = "domains"  # custom domains (destroy only: removed before anything else)
    DATABASE = "database"  # site database and user (wordpress)
    FILES = "files"  # webroot / volume with the site's files and config
    APP = "app"  # PHP-FPM pool or container (php, wordpress)
    WEB = "web"  # per-site web server (docker nginx container)
    EDGE = "edge"  # route at the edge
    CONFIRM = "confirm"  # an HTTP answer through the edge
    INSTALL = "install"  # finish the WordPress install (with an admin email)


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


def provision_plan(spec: SiteSpec) -> tuple[Step, ...]:
    steps: list[Step] = []
    if spec.type is SiteType.WORDPRESS:
        steps.append(Step.DATABASE)
    steps.append(Step.FILES)
    if spec.type is not SiteType.STATIC:
        steps.append(Step.APP)
    if spec.runtime is RuntimeKind.DOCKER:
        steps.append(Step.WEB)
    steps += [Step.EDGE, Step.CONFIRM]
    if spec.type is SiteType.WORDPRESS and spec.admin_email:
        steps.append(Step.INSTALL)
    return tuple(steps)


def undoable(step: Step) -> bool:
    """Steps that leave something behind which destroy or compensation must remove."""
    return step not in (Step.CONFIRM, Step.INSTALL)


def destroy_plan(spec: SiteSpec) -> tuple[Step, ...]:
    """Custom domains first (their routes, certificates, tunnel rules), then every step
    of the provision plan undone in reverse."""
    return (Step.DOMAINS, *(s for s in reversed(provision_plan(spec)) if undoable(s)))
