"""What a tenant is (pure): its lifecycle, operations and steps, its name rule, the layout of
its home, and the limits of its plan.

A tenant owns sites (and, later, databases, caches, zones): on the host it is a Linux user and
group, `hp-<name>`, with a home laid out for hosting, reached over SFTP chrooted to that home.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass

from hostplane import naming
from hostplane.errors import ConflictError, ValidationError
from hostplane.kernel.lifecycle import Lifecycle

KIND = "tenant"
TENANT_NAME_MAX = 32
DEFAULT_PLAN = "default"


class TenantStatus(enum.StrEnum):
    PENDING = "PENDING"
    PROVISIONING = "PROVISIONING"
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    DELETING = "DELETING"
    DELETED = "DELETED"
    FAILED = "FAILED"


T = TenantStatus
TENANT_TRANSITIONS: Mapping[str, frozenset[str]] = {
    T.PENDING: frozenset({T.PROVISIONING}),
    # DELETING: a tenant made for a site whose create failed before its account was made.
    T.PROVISIONING: frozenset({T.ACTIVE, T.FAILED, T.DELETING}),
    T.ACTIVE: frozenset({T.SUSPENDED, T.DELETING}),
    T.SUSPENDED: frozenset({T.ACTIVE, T.DELETING}),
    T.DELETING: frozenset({T.DELETED, T.FAILED}),
    T.FAILED: frozenset({T.PROVISIONING, T.DELETING}),
    T.DELETED: frozenset(),
}
LIFECYCLE = Lifecycle(KIND, TENANT_TRANSITIONS)
LIVE = frozenset(set(TenantStatus) - {T.DELETED})
# The tenants whose account must exist on the host (their files are kept while suspended).
HOSTED = frozenset({T.ACTIVE, T.SUSPENDED})
DELETABLE = frozenset({T.ACTIVE, T.SUSPENDED, T.FAILED})


class TenantOp(enum.StrEnum):
    CREATE = "tenant-create"
    RETRY = "tenant-retry"  # a FAILED create run again
    SUSPEND = "tenant-suspend"
    UNSUSPEND = "tenant-unsuspend"
    DELETE = "tenant-delete"
    REPAIR = "tenant-repair"  # a reconcile re-running steps


class Step(enum.StrEnum):
    """Steps of the tenant's sagas."""

    CHILDREN = "tenant-children"  # delete only, first: what the tenant owns, removed (cascade)
    ACCOUNT = "tenant-account"  # the system user and group, and the home laid out
    SFTP = "tenant-sftp"  # the tenant's SFTP keys file written from the database, or removed
    SUSPENSION = "tenant-suspension"  # what the tenant owns, suspended or served as desired


def create_plan() -> tuple[Step, ...]:
    return (Step.ACCOUNT, Step.SFTP)


def delete_plan() -> tuple[Step, ...]:
    """Undone in this order: children first, then SFTP access, then the account."""
    return (Step.CHILDREN, Step.SFTP, Step.ACCOUNT)


def suspension_plan() -> tuple[Step, ...]:
    """Suspend and unsuspend: the children follow the tenant's desired suspension, then SFTP
    (a suspended tenant has no keys and no login)."""
    return (Step.SUSPENSION, Step.SFTP)


# Linux's own accounts and services', and the names the platform keeps for its hosts (a
# tenant of its own is made for a site, under the site's name).
RESERVED_TENANT_NAMES = frozenset(
    {
        "root",
        "daemon",
        "bin",
        "sys",
        "sync",
        "games",
        "man",
        "lp",
        "mail",
        "news",
        "uucp",
        "proxy",
        "backup",
        "list",
        "irc",
        "gnats",
        "nobody",
        "nogroup",
        "operator",
        "sshd",
        "caddy",
        "pdns",
        "mysql",
        "postgres",
        "redis",
        "messagebus",
        "systemd",
        "www",
        "www-data",
        "api",
        "admin",
        "administrator",
        "app",
        "smtp",
        "imap",
        "pop",
        "ftp",
        "sftp",
        "ssh",
        "ns",
        "ns1",
        "ns2",
        "dns",
        "localhost",
        "hostplane",
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
        "operator-token",
        "default",
    }
)
# A DNS label that is also a valid Linux user name: a letter first, then lowercase letters,
# digits and hyphens, not ending with a hyphen, 1-32 characters; no "xn--" (punycode), no
# "hp-" (the platform's users) and no "systemd-" (systemd's). The published pattern (the
# API's schema) has the reserved names in it.
TENANT_LABEL_PATTERN = r"^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$"
TENANT_NAME_PATTERN = (
    "^(?!(?:" + "|".join(sorted(RESERVED_TENANT_NAMES)) + ")$)"
    "(?!xn--)(?!hp-)(?!systemd-)" + TENANT_LABEL_PATTERN[1:]
)
TENANT_NAME_HINT = (
    "a DNS label that is also a Linux user name: 1-32 lowercase letters, digits or hyphens, "
    "starting with a letter, not ending with a hyphen, not starting with xn--, hp- or "
    "systemd-, and not a name the system or the platform keeps (root, www-data, admin, ...)"
)
_LABEL = re.compile(TENANT_LABEL_PATTERN)


def validate_tenant_name(name: str) -> str:
    """The name if it is a usable tenant name, else ValidationError saying what to fix."""
    if not isinstance(name, str) or not name:
        raise ValidationError(f"tenant name is empty: use {TENANT_NAME_HINT}")
    if len(name) > TENANT_NAME_MAX:
        raise ValidationError(
            f"tenant name is {len(name)} characters long: the limit is {TENANT_NAME_MAX}"
        )
    if name != name.lower():
        raise ValidationError(f"tenant name {name!r} has uppercase letters: use lowercase")
    if not _LABEL.fullmatch(name):
        raise ValidationError(f"tenant name {name!r} is not valid: use {TENANT_NAME_HINT}")
    if name in RESERVED_TENANT_NAMES or name.startswith(("xn--", "hp-", "systemd-")):
        raise ValidationError(f"tenant name {name!r} is reserved: choose another")
    return name


def system_user(tenant: str) -> str:
    """The tenant's Linux user and group: `hp-<name>` (shortened with a hash past 32
    characters). A tenant made for a site of the same name has the user that site had."""
    return naming.site_system_user(tenant)


class Limit(enum.StrEnum):
    SITES = "sites"
    DATABASES = "databases"
    CACHES = "caches"
    DISK_MB = "disk_mb"
    PHP_WORKERS = "php_workers"
    ZONES = "zones"
    CACHE_MEMORY_MB = "cache_memory_mb"


@dataclass(frozen=True, slots=True)
class Limits:
    """A plan's limits. `php_workers` is the most PHP workers each of the tenant's PHP sites
    runs at once (pm.max_children of its PHP-FPM pool); `zones` the most DNS zones it has;
    `cache_memory_mb` the most memory (maxmemory) of all its live caches together."""

    sites: int
    databases: int
    caches: int
    disk_mb: int
    php_workers: int
    zones: int
    cache_memory_mb: int

    def of(self, limit: Limit) -> int:
        value: int = getattr(self, limit.value)
        return value


DEFAULT_LIMITS = Limits(
    sites=100,
    databases=100,
    caches=20,
    disk_mb=10240,
    php_workers=5,
    zones=100,
    cache_memory_mb=20480,
)
LIMIT_MAX = 1_000_000
PLAN_NAME_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$"
PLAN_NAME_HINT = "1-32 lowercase letters, digits or hyphens, not starting or ending with one"


def validate_plan_name(name: str) -> str:
    if not re.fullmatch(PLAN_NAME_PATTERN, name or ""):
        raise ValidationError(f"plan name {name!r} is not valid: use {PLAN_NAME_HINT}")
    return name


def check_limit(
    tenant: str, plan: str, limits: Limits, limit: Limit, usage: int, more: int = 1
) -> None:
    """ConflictError naming the limit and the usage when `more` (one more thing, or that many
    MB) would exceed it. Pure."""
    allowed = limits.of(limit)
    if usage + more > allowed:
        asked = "" if more == 1 else f", {more} more asked"
        raise ConflictError(
            f"tenant {tenant!r} is at its plan's limit of {limit.value}: {usage} of {allowed}"
            f"{asked} (plan {plan!r}); remove one or move the tenant to a larger plan"
        )


def over_limits(limits: Limits, usage: Mapping[str, int]) -> list[str]:
    """Every limit the usage is over, as 'disk_mb: 120 of 100'. Pure."""
    return [
        f"{limit.value}: {usage[limit.value]} of {limits.of(limit)}"
        for limit in Limit
        if limit.value in usage and usage[limit.value] > limits.of(limit)
    ]


# Extension points the tenant declares; its children contribute to them (never imported here).
# owned(uow, tenant) -> {"sites": ["blog", ...]}: what the tenant owns, by kind (live only).
OWNED = "tenant.owned"
# usage(uow, tenant) -> {"cache_memory_mb": 512}: a limit the child measures other than by
# counting what it owns (live only).
USAGE = "tenant.usage"
# before_teardown(uow, tenant, actor) -> [workflow ids]: a cascade delete is about to remove
# the children: refuse (409) while one is at work, or stop what only waits.
# before_restore(services): a child's work that must come before the accounts are restored at
# a worker's start (an upgrade's sites leaving the processes that hold their user).
BEFORE_RESTORE = "tenant.before_restore"
BEFORE_TEARDOWN = "tenant.before_teardown"
# teardown(services, tenant, actor) -> bool: remove the child kind's resources of the tenant
# through the child's own steps; True when it removed any.
TEARDOWN = "tenant.teardown"
# follow_suspension(services, tenant) -> Outcome: the child's resources of the tenant made to
# match its desired suspension (tenant.suspension set: suspended; None: served as before).
SUSPENSION = "tenant.suspension"
# keep_running(services, tenant) -> (pid -> bool): which of the processes running as the
# tenant's user are the child's and outlive its suspension (a cache instance, whose users are
# turned off instead); the suspension ends every other one.
KEEP_RUNNING = "tenant.keep_running"
# domain_steps(services, uow, domain, tenant_id, removal) -> [step names]: a descendant's
# steps for a custom domain of the tenant, run before its DNS is checked (a hosted zone writing
# the domain's records) and undone when it is removed or its addition fails; each step works
# on the domain kind's target (its `domain` and `site`).
DOMAIN_STEPS = "tenant.domain_steps"
# dns01(services, domain, tenant_id) -> TxtChallenges | None: where a descendant publishes the
# ACME DNS-01 TXT records of a custom domain of the tenant (a hosted zone holding its name);
# None when it cannot. With one, the domain's certificate is validated by DNS-01.
DNS01 = "tenant.dns01"
# A WordPress site's own database (`wp_<site>`, which the site kind makes with its user) is one
# of its tenant's databases: listed, counted against the plan's `databases`, open to the
# tenant's own database users. A child keeps that record; the site kind tells it:
# claim_site_database(uow, tenant, site, database) -> None: in the site create's unit of work
# (after the tenant row's touch): 409 when the plan has no room for one more database, else
# the database recorded as the site's (PENDING).
SITE_DATABASE_CLAIM = "tenant.site_database.claim"
# follow_site_database(uow, database, status, reason, actor, operation_id) -> None: the record
# follows what the site did with its database (a ResourceStatus); to DELETING it refuses (409)
# while the tenant's own work on it runs; DELETED releases it (and its users' rows), in the
# unit of work the site leaves in.
SITE_DATABASE_STATUS = "tenant.site_database.status"
# release_site_database(services, database, actor) -> Outcome: before the site's database is
# dropped (or kept for a later restore), the accounts the tenant added on it are dropped.
SITE_DATABASE_RELEASE = "tenant.site_database.release"
