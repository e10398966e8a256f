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

from hostplane.domain.errors import HostplaneError
from hostplane.providers.caddy.admin import admin_client
from hostplane.providers.docker.runtime import DockerRuntime
from hostplane.providers.mariadb.provider import MariaDBProvider
from hostplane.settings import Settings
from hostplane.workflows.services import docker_runtime_config


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    message: str
    required: bool = True  # a failure that is not required is a warning


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


def _site_databases(settings: Settings) -> str:
    provider = MariaDBProvider(settings.site_db_url)
    return f"{provider.where} answers (socket {provider.socket_path()})"


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
        ("layout", lambda: _layout(settings), True),
        ("site databases", lambda: _site_databases(settings), True),
        ("local runtime", lambda: _php_fpm(settings), settings.runtime == "local"),
        ("docker runtime", lambda: _docker(settings), docker_required),
    ]
    checks = []
    for name, probe, required in probes:
        try:
            checks.append(Check(name, True, probe(), required))
        except Exception as exc:  # every failure becomes one line, whatever raised it
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            checks.append(Check(name, False, reason[:300], required))
    return checks
