"""The Docker runtime: per site a volume, a PHP-FPM container and an nginx container on a
network of their own, labelled as this plane's, with limits, restart policy and health checks.

The edge reaches the site's nginx through a unix socket in a host directory bind-mounted into
the container, so no port is published; PHP reaches MariaDB through its socket, bind-mounted
read-only. A container is recreated only when the hash of its intended config (kept in a label)
changes. An object under one of the site's names that is not this plane's (marks.py) is never
adopted, changed or removed: creating refuses with ForeignResourceError, removing leaves it.
Connection and error mapping: client.py; files: files.py; lookups, listing, prune: inventory.py.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import httpx
import structlog

from hostplane import naming
from hostplane.providers import http_clients
from hostplane.providers.base import Outcome, PermanentError
from hostplane.providers.docker import inventory as objects
from hostplane.providers.docker.client import EngineClient
from hostplane.providers.docker.files import DB_SOCKET_DIR, Files, config_files, populate, tar
from hostplane.providers.docker.inventory import DockerInventory, ObservedContainer
from hostplane.providers.docker.marks import Marks
from hostplane.providers.docker.nginx import SOCKET_DIR, WEBROOT, render_server
from hostplane.providers.runtime import (
    HTTPProxy,
    RuntimeKind,
    SiteSecrets,
    SiteSpec,
    SiteType,
    Upstream,
)

__all__ = ["DockerInventory", "DockerRuntime", "DockerRuntimeConfig", "ObservedContainer"]

log = structlog.get_logger(__name__)

CONFIG_LABEL = "hostplane.config"
HEALTH_TIMING = {"interval": 10_000_000_000, "timeout": 5_000_000_000, "retries": 3}


@dataclass(frozen=True, slots=True)
class DockerRuntimeConfig:
    docker_host: str | None
    tls_dir: str | None
    php_image: str
    nginx_image: str
    memory: str
    cpus: float
    run_dir: Path
    # This plane's id, labelled on everything the runtime creates; "" makes a runtime that
    # only looks at the engine (`hostctl doctor`) and creates nothing.
    owner: str
    # The MariaDB socket on this host, bind-mounted into PHP containers (asked lazily, so the
    # runtime can be built while MariaDB is down).
    db_socket: Callable[[], str] | None = None
    # Hostplane-marked objects without a plane id are ours too (Plane.predates_marks).
    adopt_unmarked: bool = False


class DockerRuntime:
    kind = RuntimeKind.DOCKER
    supported_types = frozenset({SiteType.STATIC, SiteType.PHP, SiteType.WORDPRESS})

    def __init__(self, config: DockerRuntimeConfig) -> None:
        self.config = config
        self.engine = EngineClient(config.docker_host, config.tls_dir)
        self.marks = Marks(config.owner, config.adopt_unmarked)

    @property
    def where(self) -> str:
        return self.engine.where

    @property
    def client(self) -> docker.DockerClient:
        return self.engine.client

    def site_run_dir(self, site: str) -> Path:
        return self.config.run_dir / site

    def _find(self, kind: str, name: str) -> Any | None:
        return objects.find(self.engine, self.marks, kind, name)

    def _remove(self, kind: str, name: str) -> bool:
        """Remove our container or volume (forced); one that is not ours is left alone."""
        return objects.remove(self.engine, self.marks, kind, name, force=True)

    # network --------------------------------------------------------------

    def _ensure_network(self, site: str) -> None:
        name = naming.site_network(site)
        if self._find("network", name) is None:
            self.engine.call(
                f"create network {name}",
                self.client.networks.create,
                name,
                driver="bridge",
                check_duplicate=True,
                labels=self.marks.labels(site),
            )

    def _remove_network_if_unused(self, site: str) -> bool:
        name = naming.site_network(site)
        network = objects.find_own(self.engine, self.marks, "network", name)
        if network is None:
            return False
        self.engine.call("inspect a network", network.reload)
        if network.attrs.get("Containers"):
            return False
        return objects.remove_found(self.engine, "network", name, network)

    # files ----------------------------------------------------------------

    def ensure_files(self, spec: SiteSpec, secrets: SiteSecrets | None) -> Outcome:
        volume_name = naming.site_volume(spec.name)
        created = self._find("volume", volume_name) is None
        files = config_files(spec, secrets)
        if created:
            self.engine.call(
                f"create volume {volume_name}",
                self.client.volumes.create,
                volume_name,
                labels=self.marks.labels(spec.name),
            )
        labels = self.marks.labels(spec.name, **{"hostplane.role": "files"})
        changed = populate(self.engine, self.config.php_image, labels, spec, files) or created
        return Outcome.CREATED if created else (Outcome.UPDATED if changed else Outcome.UNCHANGED)

    def remove_files(self, spec: SiteSpec) -> Outcome:
        volume_gone = self._remove("volume", naming.site_volume(spec.name))
        network_gone = self._remove_network_if_unused(spec.name)
        return Outcome.DELETED if volume_gone or network_gone else Outcome.ABSENT

    # containers -----------------------------------------------------------

    def _ensure_container(
        self,
        site: str,
        name: str,
        existing: Any | None,
        image: str,
        spec: dict[str, Any],
        files: Files,
        files_dir: str,
    ) -> Outcome:
        """Create, start or replace container `name` (`existing`: ours, as `_find` found it) so
        it runs `image` with `spec`, and `files` in `files_dir`."""
        digest = _config_digest(image, spec, files)
        outcome = Outcome.CREATED
        if existing is not None:
            labels = existing.labels
            if labels.get(CONFIG_LABEL) == digest and self.marks.marked(labels):
                if existing.status == "running":
                    return Outcome.UNCHANGED
                self.engine.call(f"start {name}", existing.start)
                return Outcome.UPDATED
            # A changed config, or adopted from before plane ids: recreated with our marks.
            self.engine.call(f"replace {name}", existing.remove, force=True)
            outcome = Outcome.UPDATED
        container = self.engine.call(
            f"create {name}",
            self.client.containers.create,
            image,
            name=name,
            labels=self.marks.labels(site, **{CONFIG_LABEL: digest}),
            restart_policy={"Name": "unless-stopped"},
            mem_limit=self.config.memory,
            nano_cpus=int(self.config.cpus * 1e9),
            **spec,
        )
        for file_name, (content, mode) in files.items():
            self.engine.call(
                f"configure {name}", container.put_archive, files_dir, tar(file_name, content, mode)
            )
        self.engine.call(f"start {name}", container.start)
        log.info("container.started", container=name, image=image, config=digest)
        return outcome

    def ensure_app(self, spec: SiteSpec) -> Outcome:
        if spec.type is SiteType.STATIC:
            return Outcome.UNCHANGED
        name = naming.php_container(spec.name)
        existing = self._find("container", name)  # refuses a stranger's before anything
        self._ensure_network(spec.name)
        volumes = {naming.site_volume(spec.name): {"bind": WEBROOT, "mode": "rw"}}
        if self.config.db_socket is not None and spec.type is SiteType.WORDPRESS:
            socket_dir = str(Path(self.config.db_socket()).parent)
            volumes[socket_dir] = {"bind": DB_SOCKET_DIR, "mode": "ro"}
        container_spec = {
            "volumes": volumes,
            "network": naming.site_network(spec.name),
            "healthcheck": {"test": ["CMD", "php-fpm8.2", "-t"], **HEALTH_TIMING},
        }
        return self._ensure_container(
            spec.name, name, existing, self.config.php_image, container_spec, {}, "/"
        )

    def remove_app(self, spec: SiteSpec) -> Outcome:
        removed = self._remove("container", naming.php_container(spec.name))
        network_gone = self._remove_network_if_unused(spec.name)
        return Outcome.DELETED if removed or network_gone else Outcome.ABSENT

    def ensure_web(self, spec: SiteSpec) -> Outcome:
        name = naming.web_container(spec.name)
        existing = self._find("container", name)  # refuses a stranger's before anything
        self._ensure_network(spec.name)
        run_dir = self.site_run_dir(spec.name)
        run_dir.mkdir(parents=True, exist_ok=True)
        server = render_server(spec.type, php=naming.php_container(spec.name)).encode()
        container_spec = {
            "volumes": {
                naming.site_volume(spec.name): {"bind": WEBROOT, "mode": "ro"},
                str(run_dir): {"bind": SOCKET_DIR, "mode": "rw"},
            },
            "network": naming.site_network(spec.name),
            "healthcheck": {
                "test": ["CMD", "test", "-S", f"{SOCKET_DIR}/web.sock"],
                **HEALTH_TIMING,
            },
        }
        if existing is None or existing.status != "running":
            (run_dir / "web.sock").unlink(missing_ok=True)  # a dead nginx's socket blocks bind
        outcome = self._ensure_container(
            spec.name,
            name,
            existing,
            self.config.nginx_image,
            container_spec,
            {"site.conf": (server, 0o644)},
            "/etc/nginx/conf.d",
        )
        self._wait_until_serving(spec.name, name)
        return outcome

    def _wait_until_serving(self, site: str, container_name: str, timeout: float = 15.0) -> None:
        socket = self.site_run_dir(site) / "web.sock"
        deadline = time.monotonic() + timeout
        last = "no socket"
        while time.monotonic() < deadline:
            if socket.exists():
                try:
                    with http_clients.unix_socket_client(str(socket), timeout=5) as web:
                        resp = web.get("http://site/", headers={"Host": site})
                    if resp.status_code < 500:
                        return
                    last = f"HTTP {resp.status_code}"
                except httpx.HTTPError as exc:
                    last = str(exc)
            time.sleep(0.05)
        container = self.engine.get(self.client.containers, container_name)
        logs = container.logs(tail=20).decode(errors="replace") if container is not None else ""
        raise PermanentError(f"nginx of site {site} does not answer ({last})", detail=logs)

    def remove_web(self, spec: SiteSpec) -> Outcome:
        removed = self._remove("container", naming.web_container(spec.name))
        run_dir = self.site_run_dir(spec.name)
        (run_dir / "web.sock").unlink(missing_ok=True)
        if run_dir.exists() and not any(run_dir.iterdir()):
            run_dir.rmdir()
        network_gone = self._remove_network_if_unused(spec.name)
        return Outcome.DELETED if removed or network_gone else Outcome.ABSENT

    def upstream(self, spec: SiteSpec) -> Upstream:
        # Formatted rather than joined: the edge's desired state asks this of every site.
        return HTTPProxy(dial=f"unix/{self.config.run_dir}/{spec.name}/web.sock")

    # reconciler -----------------------------------------------------------

    def inventory(self) -> DockerInventory:
        """Every container, volume and network of this plane: one list call each."""
        return objects.inventory(self.engine, self.marks)

    def prune(self, kind: str, name: str) -> Outcome:
        """Remove one container, volume or network of this plane that no live site owns."""
        return objects.prune(self.engine, self.marks, kind, name)

    def observe(self) -> frozenset[str]:
        """Sites with any container, volume or network of this plane."""
        return objects.sites_with_objects(self.engine, self.marks)


def _config_digest(image: str, spec: dict[str, Any], files: Files) -> str:
    """The hash of a container's intended config, kept in its CONFIG_LABEL."""
    intended = {
        "image": image,
        **spec,
        "files": {k: hashlib.sha256(v[0]).hexdigest() for k, v in files.items()},
    }
    encoded = json.dumps(intended, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]
