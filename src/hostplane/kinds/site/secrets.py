"""A site's secrets in the state store, sealed with the control plane's key.

They are read inside steps by site id — never passed as workflow inputs, never logged.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from hostplane import naming
from hostplane.errors import ConflictError
from hostplane.kinds.site.table import SiteRow
from hostplane.providers.mariadb.provider import generate_password
from hostplane.providers.runtime import SiteSecrets
from hostplane.providers.wordpress import generate_salts
from hostplane.services import Services

OWNER = "site"
DB_PASSWORD = "db_password"
WP_SALTS = "wp_salts"
WP_ADMIN_PASSWORD = "wp_admin_password"
ALL = (DB_PASSWORD, WP_SALTS, WP_ADMIN_PASSWORD)


def get(services: Services, site_id: str, name: str) -> str | None:
    with services.store.unit_of_work() as uow:
        sealed = uow.secrets.get(OWNER, site_id, name)
    return services.secrets.open(sealed) if sealed is not None else None


def get_or_create(services: Services, site_id: str, name: str, make: Callable[[], str]) -> str:
    """The stored value, or a new one stored first — so a retried step reuses what it made."""
    existing = get(services, site_id, name)
    if existing is not None:
        return existing
    try:
        with services.store.unit_of_work() as uow:
            uow.secrets.put(OWNER, site_id, name, services.secrets.seal(make()))
    except ConflictError:
        pass  # stored concurrently: read the winner's
    value = get(services, site_id, name)
    assert value is not None
    return value


def put(services: Services, site_id: str, name: str, value: str) -> None:
    with services.store.unit_of_work() as uow:
        uow.secrets.put(OWNER, site_id, name, services.secrets.seal(value))


def delete(services: Services, site_id: str, *names: str) -> None:
    with services.store.unit_of_work() as uow:
        for name in names:
            uow.secrets.delete(OWNER, site_id, name)


def database_password(services: Services, site: SiteRow) -> str:
    return get_or_create(services, site.id, DB_PASSWORD, generate_password)


def site_secrets(services: Services, site: SiteRow) -> SiteSecrets:
    salts = get_or_create(services, site.id, WP_SALTS, lambda: json.dumps(generate_salts()))
    return SiteSecrets(
        db_name=naming.site_database(site.name),
        db_user=naming.site_database_user(site.name),
        db_password=database_password(services, site),
        db_host=f"localhost:{services.databases.socket_path()}",
        salts=json.loads(salts),
    )
