"""Every name Hostplane gives a real resource, in one place.

Each derived name is valid for its system for every valid site name (a
63-character site name included): names that could overflow a system's limit
are shortened and given a hash of the full site name, so they stay unique.
"""

from __future__ import annotations

import hashlib
import re

MYSQL_IDENTIFIER_MAX = 64
MYSQL_USER_MAX = 32  # MySQL's limit; MariaDB allows 80, the smaller one fits both
UNIX_USER_MAX = 32
LABEL_PREFIX = "hostplane"
MANAGED_LABEL = f"{LABEL_PREFIX}.managed"
SITE_LABEL = f"{LABEL_PREFIX}.site"
DOCKER_NETWORK = "hostplane"


_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)


def is_dns_label(value: str) -> bool:
    """One lowercase letters-digits-hyphens label of 1-63 characters (RFC 1123)."""
    return bool(_LABEL.fullmatch(value))


def is_hostname(value: str) -> bool:
    """A lowercase ASCII (punycode) host name: safe to write into any generated config."""
    return bool(_HOSTNAME.fullmatch(value))


def _digest(site: str, length: int = 8) -> str:
    return hashlib.sha256(site.encode()).hexdigest()[:length]


def _fit(prefix: str, site: str, limit: int, *, sep: str = "_") -> str:
    body = site.replace("-", sep)
    name = f"{prefix}{body}"
    if len(name) <= limit:
        return name
    tail = f"{sep}{_digest(site)}"
    return f"{prefix}{body[: limit - len(prefix) - len(tail)]}{tail}"


def site_hostname(site: str, base_domain: str) -> str:
    return f"{site}.{base_domain}"


def site_database(site: str) -> str:
    return _fit("wp_", site, MYSQL_IDENTIFIER_MAX)


def site_database_user(site: str) -> str:
    return _fit("wp_", site, MYSQL_USER_MAX)


SYSTEM_USER_PREFIX = "hp-"
SYSTEM_USERS = f"{SYSTEM_USER_PREFIX}*"  # every site's and tenant's user, as sshd matches it


def site_system_user(site: str) -> str:
    return _fit(SYSTEM_USER_PREFIX, site, UNIX_USER_MAX, sep="-")


def php_container(site: str) -> str:
    return f"php_{site}"


def web_container(site: str) -> str:
    return f"nginx_{site}"


def site_volume(site: str) -> str:
    return f"wp_{site}"


def fpm_pool(site: str) -> str:
    return site


def fpm_pool_file(site: str) -> str:
    return f"{site}.conf"


def fpm_socket_file(site: str) -> str:
    return f"{site}.sock"


def nginx_server_file(site: str) -> str:
    return f"{site}.conf"


def site_dir(site: str) -> str:
    """Directory of the site under the data directory's `sites/`."""
    return site


def edge_route_id(site: str) -> str:
    return f"site-{site}"


def site_network(site: str) -> str:
    """The user-defined Docker network a site's containers share."""
    return f"hp_{site}"
