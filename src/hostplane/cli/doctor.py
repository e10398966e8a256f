"""`hostctl doctor`: the control plane's own dependencies, one line each (the seed's
health.sh). Read-only; exit 1 when anything a live site needs is broken."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa

from hostplane.cli.doctor_front import Skipped, front_probes
from hostplane.errors import HostplaneError
from hostplane.providers.caddy.admin import admin_client
from hostplane.providers.docker.runtime import DockerRuntime
from hostplane.providers.mariadb.admin import (
    ADMIN_SECRET,
    Bootstrap,
    admin_user,
    root_account,
    root_open_over_tcp,
)
from hostplane.providers.mariadb.connection import Account, server_socket
from hostplane.providers.powerdns import dnsprobe
from hostplane.providers.powerdns.client import server_url
from hostplane.providers.powerdns.files import read_api_key
from hostplane.secretbox import load_secret_box
from hostplane.services import docker_runtime_config
from hostplane.settings import Settings


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    message: str
    required: bool = True  # a failure that is not required is a warning
    skipped: bool = False  # does not apply to this plane's settings (message: why)

    @property
    def mark(self) -> str:
        if self.skipped:
            return "skip"
        return "ok  " if self.ok else ("FAIL" if self.required else "warn")


def _database(url: str) -> str:
    if url.startswith("sqlite") and not Path(url.split("///", 1)[-1]).exists():
        raise HostplaneError(f"{url} does not exist yet: run `hostctl up` once")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    finally:
        engine.dispose()
    return "answers"


def _http(url: str, what: str) -> None:
    try:
        httpx.get(url, timeout=3).raise_for_status()
    except httpx.HTTPError as exc:
        raise HostplaneError(f"{what} at {url} does not answer: {exc}") from None


def _edge(settings: Settings) -> str:
    url = settings.caddy_admin
    try:
        with admin_client(url, timeout=3) as client:
            client.get("/config/").raise_for_status()
    except httpx.HTTPError as exc:
        raise HostplaneError(f"Caddy's admin API at {url} does not answer: {exc}") from None
    return f"Caddy admin API at {url} answers"


def _layout(settings: Settings) -> str:
    """The state is private; the directories sites need are reachable by them."""
    problems = []
    for path in (settings.data_dir, settings.edge_state_dir, settings.fpm_config_dir):
        if path.exists() and path.stat().st_mode & 0o077:
            problems.append(f"{path} is {oct(path.stat().st_mode & 0o777)}: run chmod 700 {path}")
    for path in (settings.sites_dir, settings.run_dir):
        closed = [d for d in (path, *path.parents) if d.exists() and not d.stat().st_mode & 1]
        if closed:
            problems.append(f"sites and the edge cannot reach {path}: chmod o+x {closed[-1]}")
    if problems:
        raise HostplaneError("; ".join(problems))
    return f"state private in {settings.data_dir}; sites in {settings.sites_dir}"


def _api(settings: Settings) -> str:
    _http(f"{settings.client_api_url}/healthz", "the control plane's API")
    return f"{settings.client_api_url} is healthy"


def _pdns_key(settings: Settings) -> str:
    if settings.pdns_api_key is not None:
        return settings.pdns_api_key.get_secret_value()
    key = read_api_key(settings.pdns_dir)
    if key is None:
        raise HostplaneError(f"no PowerDNS API key in {settings.pdns_dir} yet: run `hostctl up`")
    return key


def _dns(settings: Settings) -> str:
    """PowerDNS's API answers with the key, and its DNS port answers for a zone it has."""
    url = f"{server_url(settings.pdns_api)}/zones"
    try:
        response = httpx.get(url, headers={"X-API-Key": _pdns_key(settings)}, timeout=3)
    except httpx.HTTPError as exc:
        raise HostplaneError(
            f"PowerDNS's API at {settings.pdns_api} does not answer: {exc}"
        ) from None
    if response.status_code in (401, 403):
        raise HostplaneError(f"PowerDNS at {settings.pdns_api} refuses the API key")
    response.raise_for_status()
    zones = [str(zone["name"]) for zone in response.json()]
    if settings.managed_powerdns:
        host = dnsprobe.reachable_address(settings.dns_bind_addresses[0])
    else:
        host = httpx.URL(settings.pdns_api).host
    where = f"{host}:{settings.dns_port}"
    if not zones:
        if not dnsprobe.answers(host, settings.dns_port, timeout=2):
            raise HostplaneError(f"PowerDNS's API answers but nothing answers DNS at {where}")
        return f"PowerDNS API at {settings.pdns_api} answers; DNS at {where} answers (no zone yet)"
    problem = dnsprobe.serves_zone(host, settings.dns_port, zones[0])
    if problem is not None:
        raise HostplaneError(f"PowerDNS's API answers but {problem}")
    return (
        f"PowerDNS API at {settings.pdns_api} answers ({len(zones)} zones); "
        f"DNS at {where} answers {zones[0]} SOA with authority"
    )


def _site_databases(settings: Settings) -> str:
    if settings.site_db_url:
        account = Account.from_url(settings.site_db_url)
        return f"{account.where} answers (socket {server_socket(account)})"
    plane_id, sealed = _stored_admin_password(settings)
    if plane_id is None or sealed is None:
        root, via = root_account(_bootstrap(settings))
        return (
            f"{root.where} answers root (through the {via}): Hostplane makes its own account "
            "there at first start"
        )
    user = admin_user(plane_id)
    password = load_secret_box(settings).open(sealed)
    account = Account(user, password, unix_socket=settings.site_db_socket)
    return f"{account.where} answers Hostplane's own account {user}"


def _bootstrap(settings: Settings) -> Bootstrap:
    return Bootstrap(socket=settings.site_db_socket, tcp_port=settings.site_db_port)


def _stored_admin_password(settings: Settings) -> tuple[str | None, str | None]:
    """This plane's id and its sealed site database password, read without changing the
    state database (neither is made here)."""
    url = settings.state_database_url
    if url.startswith("sqlite") and not Path(url.split("///", 1)[-1]).exists():
        return None, None
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            plane_id = conn.execute(sa.text("SELECT plane_id FROM plane")).scalar()
            sealed = conn.execute(
                sa.text(
                    "SELECT ciphertext FROM secrets"
                    " WHERE owner_kind = 'plane' AND owner_id = :plane AND name = :name"
                ),
                {"plane": plane_id, "name": ADMIN_SECRET},
            ).scalar()
    except sa.exc.SQLAlchemyError:
        return None, None
    finally:
        engine.dispose()
    return plane_id, sealed


def _site_db_root(settings: Settings) -> str:
    """A site user must not be able to become root on the site database server."""
    if settings.site_db_url:
        given = Account.from_url(settings.site_db_url)
        host, port = (given.host, given.port) if not given.unix_socket else ("127.0.0.1", 3306)
    else:
        host, port = "127.0.0.1", settings.site_db_port
    open_door = root_open_over_tcp(host, port)
    if open_door is None:
        return f"no MariaDB takes TCP connections at {host}:{port}"
    if not open_door:
        return f"root is refused over TCP at {host}:{port} without a password"
    raise HostplaneError(
        f"root logs in over TCP at {host}:{port} with no password, so any site user can too. "
        "Fix: ALTER USER root@localhost IDENTIFIED VIA unix_socket; DROP USER IF EXISTS "
        "root@'127.0.0.1', root@'::1'; and leave HOSTPLANE_SITE_DB_URL unset"
    )


def _php_fpm(settings: Settings) -> str:
    binary = shutil.which(settings.php_fpm_binary)
    if binary is None:
        raise HostplaneError(f"{settings.php_fpm_binary} is not installed: run `make install`")
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10, check=True)
    return out.stdout.splitlines()[0]


def _docker(settings: Settings) -> str:
    runtime = DockerRuntime(docker_runtime_config(settings, db_socket=None))
    version = runtime.client.version()
    return f"{runtime.where} answers (Docker {version.get('Version', '?')})"


def _docker_sites(settings: Settings) -> int:
    engine = sa.create_engine(settings.state_database_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM sites WHERE runtime = 'docker' "
                        "AND status != 'DESTROYED'"
                    )
                ).scalar_one()
            )
    except sa.exc.SQLAlchemyError:
        return 0
    finally:
        engine.dispose()


def run_checks(settings: Settings) -> list[Check]:
    docker_required = settings.runtime == "docker" or _docker_sites(settings) > 0
    probes: list[tuple[str, Callable[[], str], bool]] = [
        ("state database", lambda: _database(settings.state_database_url), True),
        ("workflow database", lambda: _database(settings.workflow_db_url), True),
        ("api", lambda: _api(settings), True),
        ("edge", lambda: _edge(settings), True),
        *front_probes(settings),
        ("layout", lambda: _layout(settings), True),
        ("dns", lambda: _dns(settings), True),
        ("site databases", lambda: _site_databases(settings), True),
        ("site database root", lambda: _site_db_root(settings), False),
        ("local runtime", lambda: _php_fpm(settings), settings.runtime == "local"),
        ("docker runtime", lambda: _docker(settings), docker_required),
    ]
    checks = []
    for name, probe, required in probes:
        try:
            checks.append(Check(name, True, probe(), required))
        except Skipped as skip:
            checks.append(Check(name, True, str(skip), required, skipped=True))
        except Exception as exc:  # every failure becomes one line, whatever raised it
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            checks.append(Check(name, False, reason[:300], required))
    return checks
