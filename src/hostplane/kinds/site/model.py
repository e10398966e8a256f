"""What a site is (pure): its lifecycle, its operations and steps, its name rule, and which
steps build it for its type and runtime.

One skeleton serves every site type and runtime: `provision_plan` picks the steps a site
needs, in order; destroy runs their undo in reverse.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from hostplane import naming
from hostplane.errors import ValidationError
from hostplane.kernel.lifecycle import Lifecycle
from hostplane.naming import is_dns_label, site_hostname
from hostplane.providers.runtime import RuntimeKind, SiteSpec, SiteType, runtime_kind, site_type
from hostplane.settings import Settings

KIND = "site"
PARENT = "tenant"
SITE_NAME_MAX = 63


class SiteStatus(enum.StrEnum):
    CREATED = "CREATED"
    PROVISIONING = "PROVISIONING"
    ACTIVE = "ACTIVE"
    DESTROYING = "DESTROYING"
    DESTROYED = "DESTROYED"
    FAILED = "FAILED"


S = SiteStatus
SITE_TRANSITIONS: Mapping[str, frozenset[str]] = {
    S.CREATED: frozenset({S.PROVISIONING}),
    S.PROVISIONING: frozenset({S.ACTIVE, S.FAILED}),
    S.ACTIVE: frozenset({S.DESTROYING}),
    S.DESTROYING: frozenset({S.DESTROYED, S.FAILED}),
    S.FAILED: frozenset({S.PROVISIONING, S.DESTROYING}),
    S.DESTROYED: frozenset(),
}
LIFECYCLE = Lifecycle(KIND, SITE_TRANSITIONS)
LIVE = frozenset(set(SiteStatus) - {S.DESTROYED})
DESTROYABLE = frozenset({S.ACTIVE, S.FAILED})


class SiteOp(enum.StrEnum):
    """The operations on a site."""

    PROVISION = "provision"
    RETRY = "retry"  # a FAILED provision run again
    DESTROY = "destroy"
    REINSTALL = "reinstall"  # WordPress installed afresh on a site whose data was lost
    REPAIR = "repair"  # a reconcile re-running steps (run by the reconcile's workflow)


PROVISIONING_OPS = frozenset({SiteOp.PROVISION, SiteOp.RETRY})


class Step(enum.StrEnum):
    """Steps of the site's sagas, in the order they run."""

    DOMAINS = "domains"  # the site's children (custom domains): destroy only, first
    DATABASE = "database"  # site database and user (wordpress)
    FILES = "files"  # webroot / volume with the site's files and config
    APP = "app"  # PHP-FPM pool or container (php, wordpress)
    WEB = "web"  # per-site web server (docker nginx container)
    EDGE = "edge"  # route at the edge
    CONFIRM = "confirm"  # an HTTP answer through the edge
    INSTALL = "install"  # finish the WordPress install (with an admin email)


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


# The rule above as one regular expression, published in the API's schema; in a path, where
# a reserved name simply names no site (404), the label alone.
SITE_LABEL_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
SITE_NAME_PATTERN = (
    "^(?!(?:" + "|".join(sorted(n for n in RESERVED_SITE_NAMES if n != "xn--")) + ")$)"
    "(?!xn--)" + SITE_LABEL_PATTERN[1:]
)
SITE_NAME_HINT = (
    "a DNS label: 1-63 lowercase letters, digits or hyphens, not starting or ending with a "
    "hyphen, and not a name the platform keeps (www, api, admin, ...)"
)
# What WordPress's is_email() accepts (wp-includes/formatting.php): the install would refuse
# anything else, so the request is refused first.
ADMIN_EMAIL_PATTERN = (
    r"^[a-zA-Z0-9!#$%&'*+/=?^_`{|}~.-]+@"
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?\.)+[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$"
)
ADMIN_EMAIL_HINT = (
    "an email WordPress accepts: letters, digits and !#$%&'*+/=?^_`{|}~.- before the @, "
    "a domain of letters, digits and hyphens with a dot, 6 characters at least"
)


ADMIN_EMAIL_LENGTH = (6, 254)


def validate_admin_email(email: str) -> str:
    shortest, longest = ADMIN_EMAIL_LENGTH
    if not shortest <= len(email) <= longest or not re.fullmatch(ADMIN_EMAIL_PATTERN, email):
        raise ValidationError(
            f"admin email {email!r} is not one WordPress accepts: use {ADMIN_EMAIL_HINT}"
        )
    return email


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


class SiteSummaryFields(Protocol):
    """What a page of sites shows of each: a row or a light tuple of its columns."""

    name: str
    type: str
    runtime: str
    status: str
    created_at: datetime
    updated_at: datetime

    @property
    def tenant_name(self) -> str | None: ...


class SiteFields(Protocol):
    """What most readers need of a site: a row or a light tuple of its columns."""

    id: str
    name: str
    type: str
    runtime: str
    status: str
    port: int | None
    admin_email: str | None
    installed_at: datetime | None
    maintenance: str | None
    tenant_id: str | None
    routed: bool

    @property
    def tenant_name(self) -> str | None: ...  # its tenant's name, its user's and its home's

    @property
    def tenant_made_for(self) -> str | None: ...

    @property
    def tenant_suspended(self) -> bool: ...  # its tenant is to be suspended

    @property
    def php_workers(self) -> int | None: ...  # its tenant's plan's


# WordPress's installer and its first-run setup: never served to anyone for a site whose
# install is Hostplane's (made with an admin email) or done (seen installed).
INSTALLER_PATHS = ("/wp-admin/install.php", "/wp-admin/setup-config.php")


def installer_closed(site: SiteFields) -> bool:
    return site.type == SiteType.WORDPRESS and (
        site.admin_email is not None or site.installed_at is not None
    )


def site_spec(site: SiteFields, settings: Settings) -> SiteSpec:
    """What providers know of a site: derived from its row and the platform's settings."""
    hostname = site_hostname(site.name, settings.base_domain)
    return SiteSpec(
        name=site.name,
        type=site_type(site.type),
        runtime=runtime_kind(site.runtime),
        hostname=hostname,
        port=site.port,
        admin_email=site.admin_email,
        url=settings.site_url(hostname),
        tenant=site.tenant_name or "",
        tenant_user=naming.site_system_user(site.tenant_name) if site.tenant_name else "",
        tenant_made_for=site.tenant_made_for,
        php_workers=site.php_workers,
    )


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


def reinstall_plan() -> tuple[Step, ...]:
    """A WordPress whose data was lost, installed afresh: its database (empty), the edge out of
    maintenance, WordPress answering, the install with a new admin password."""
    return (Step.DATABASE, Step.EDGE, Step.CONFIRM, Step.INSTALL)


def destroy_plan(spec: SiteSpec) -> tuple[Step, ...]:
    """Custom domains first (their routes, certificates, tunnel rules), then every step
    of the provision plan undone in reverse."""
    return (Step.DOMAINS, *(s for s in reversed(provision_plan(spec)) if undoable(s)))
