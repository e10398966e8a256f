"""The Docker runtime: per site a volume, a PHP-FPM container and an nginx container on a
network of their own, labelled as Hostplane's, with limits, restart policy and health checks.

The edge reaches the site's nginx through a unix socket in a host directory bind-mounted into
the container, so no port is published; PHP reaches MariaDB through its socket, bind-mounted
read-only. Secrets (wp-config.php) enter the volume with `put_archive`: never as an argument,
an environment variable or a label. A container is recreated only when the hash of its intended
config (kept in a label) changes.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx
import requests
import structlog

from hostplane import naming
from hostplane.providers import http_clients
from hostplane.providers.base import Outcome, PermanentError, TemporaryError
from hostplane.providers.docker.nginx import SOCKET_DIR, WEBROOT, render_server
from hostplane.providers.runtime import (
    HTTPProxy,
    RuntimeKind,
    SiteSecrets,
    SiteSpec,
    SiteType,
    Upstream,
)
from hostplane.providers.wordpress import render_wp_config

log = structlog.get_logger(__name__)

CONFIG_LABEL = "hostplane.config"
DB_SOCKET_DIR = "/run/mysqld"
WWW_DATA = 33
PLACEHOLDER_HTML = (
    '<!doctype html><html><head><meta charset="utf-8"><title>{name}</title></head>'
    "<body><h1>{name}</h1><p>This site is served by Hostplane.</p></body></html>\n"
)
PLACEHOLDER_PHP = (
    "<?php $name = '{name}'; echo '<!doctype html><html><head><meta charset=\"utf-8\">"
    "<title>' . $name . '</title></head><body><h1>' . $name . '</h1><p>PHP ' . PHP_VERSION"
    " . ' is serving this site.</p></body></html>';\n"
)


@dataclass(frozen=True, slots=True)
class ObservedContainer:
    name: str
    site: str
    running: bool
    image: str


@dataclass(frozen=True, slots=True)
class DockerInventory:
    containers: dict[str, ObservedContainer]
    volumes: dict[str, str]  # name → site label
    networks: dict[str, str]


@dataclass(frozen=True, slots=True)
class DockerRuntimeConfig:
    docker_host: str | None
    tls_dir: str | None
    php_image: str
    nginx_image: str
    memory: str
    cpus: float
    run_dir: Path
    # The MariaDB socket on this host, bind-mounted into PHP containers (asked lazily, so the
    # runtime can be built while MariaDB is down).
    db_socket: Callable[[], str] | None = None


class DockerRuntime:
    kind = RuntimeKind.DOCKER
    supported_types = frozenset({SiteType.STATIC, SiteType.PHP, SiteType.WORDPRESS})

    def __init__(self, config: DockerRuntimeConfig) -> None:
        self.config = config
        self._client: docker.DockerClient | None = None

    # plumbing -------------------------------------------------------------

    @property
    def where(self) -> str:
        return f"Docker engine at {self.config.docker_host or 'DOCKER_HOST/default socket'}"

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            try:
                if self.config.docker_host:
                    tls: Any = None
                    if self.config.tls_dir:
                        d = Path(self.config.tls_dir)
                        tls = docker.tls.TLSConfig(
                            client_cert=(str(d / "cert.pem"), str(d / "key.pem")),
                            ca_cert=str(d / "ca.pem"),
                            verify=True,
                        )
                    self._client = _connect(self.config.docker_host, tls)
                else:
                    self._client = docker.from_env(timeout=60)
            except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
                raise TemporaryError(f"{self.where} is not reachable", detail=str(exc)) from exc
        return self._client

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except docker.errors.ImageNotFound as exc:
            raise PermanentError(
                f"image missing on the {self.where}: run `make images`", detail=str(exc)
            ) from exc
        except docker.errors.NotFound:
            raise
        except docker.errors.APIError as exc:
            if exc.status_code is not None and exc.status_code >= 500:
                raise TemporaryError(f"{self.where} failed to {what}", detail=str(exc)) from exc
            raise PermanentError(
                f"{self.where} refused to {what}", detail=exc.explanation or str(exc)
            ) from exc
        except (docker.errors.DockerException, OSError, httpx.HTTPError) as exc:
            raise TemporaryError(f"{self.where} is not reachable", detail=str(exc)) from exc
        except Exception as exc:  # requests' connection errors surface from the SDK
            if type(exc).__module__.startswith(("requests", "urllib3")):
                raise TemporaryError(f"{self.where} is not reachable", detail=str(exc)) from exc
            raise

    def _labels(self, site: str, **extra: str) -> dict[str, str]:
        return {naming.MANAGED_LABEL: "true", naming.SITE_LABEL: site, **extra}

    def _get(self, collection: Any, name: str) -> Any | None:
        try:
            return self._call(f"look up {name}", collection.get, name)
        except docker.errors.NotFound:
            return None

    def site_run_dir(self, site: str) -> Path:
        return self.config.run_dir / site

    # network --------------------------------------------------------------

    def _ensure_network(self, site: str) -> None:
        name = naming.site_network(site)
        if self._get(self.client.networks, name) is None:
            self._call(
                f"create network {name}",
                self.client.networks.create,
                name,
                driver="bridge",
                labels=self._labels(site),
            )

    def _remove_network_if_unused(self, site: str) -> bool:
        network = self._get(self.client.networks, naming.site_network(site))
        if network is None:
            return False
        self._call("inspect a network", network.reload)
        if network.attrs.get("Containers"):
            return False
        try:
            self._call("remove a network", network.remove)
        except docker.errors.NotFound:
            return False
        return True

    # files ----------------------------------------------------------------

    def ensure_files(self, spec: SiteSpec, secrets: SiteSecrets | None) -> Outcome:
        volume_name = naming.site_volume(spec.name)
        created = self._get(self.client.volumes, volume_name) is None
        if created:
            self._call(
                f"create volume {volume_name}",
                self.client.volumes.create,
                volume_name,
                labels=self._labels(spec.name),
            )
        files: dict[str, tuple[bytes, int]] = {}
        if spec.type is SiteType.WORDPRESS:
            if secrets is None:
                raise PermanentError(f"site {spec.name} has no database credentials stored")
            socket_name = Path(secrets.db_host.split(":", 1)[1]).name
            config = render_wp_config(
                secrets, site_url=spec.url, db_host=f"localhost:{DB_SOCKET_DIR}/{socket_name}"
            )
            files["wp-config.php"] = (config.encode(), 0o640)
        script = _populate_script(spec)
        changed = self._run_in_volume(spec.name, script, files) or created
        return Outcome.CREATED if created else (Outcome.UPDATED if changed else Outcome.UNCHANGED)

    def _run_in_volume(self, site: str, script: str, files: dict[str, tuple[bytes, int]]) -> bool:
        """Run `script` in a short-lived container with the volume, then put `files` into it
        where they differ. True when anything changed."""
        volume = naming.site_volume(site)
        container = self._call(
            "start a files container",
            self.client.containers.run,
            self.config.php_image,
            ["sleep", "120"],
            detach=True,
            remove=False,
            volumes={volume: {"bind": WEBROOT, "mode": "rw"}},
            labels=self._labels(site, **{"hostplane.role": "files"}),
            network_mode="none",
        )
        try:
            code, output = self._call(
                "populate the volume", container.exec_run, ["sh", "-c", script]
            )
            if code not in (0, 10):
                raise PermanentError(
                    f"populating the files of site {site} failed",
                    detail=output.decode(errors="replace")[-1000:],
                )
            changed = code == 10
            for name, (content, mode) in files.items():
                path = f"{WEBROOT}/{name}"
                _, digest = self._call(
                    "read a file",
                    container.exec_run,
                    ["sh", "-c", f"sha256sum {path} 2>/dev/null || true"],
                )
                if digest.decode().split(" ")[0] == hashlib.sha256(content).hexdigest():
                    continue
                self._call(
                    "write a file", container.put_archive, WEBROOT, _tar(name, content, mode)
                )
                changed = True
            return bool(changed)
        finally:
            self._call("remove the files container", container.remove, force=True)

    def remove_files(self, spec: SiteSpec) -> Outcome:
        volume = self._get(self.client.volumes, naming.site_volume(spec.name))
        if volume is not None:
            self._call("remove a volume", volume.remove, force=True)
        network_gone = self._remove_network_if_unused(spec.name)
        return Outcome.DELETED if volume is not None or network_gone else Outcome.ABSENT

    # containers -----------------------------------------------------------

    def _ensure_container(
        self,
        site: str,
        name: str,
        image: str,
        spec: dict[str, Any],
        files: dict[str, tuple[bytes, int]],
        files_dir: str,
    ) -> Outcome:
        digest = hashlib.sha256(
            json.dumps(
                {
                    "image": image,
                    **spec,
                    "files": {k: hashlib.sha256(v[0]).hexdigest() for k, v in files.items()},
                },
                sort_keys=True,
                default=str,
            ).encode()
        ).hexdigest()[:16]
        existing = self._get(self.client.containers, name)
        outcome = Outcome.CREATED
        if existing is not None:
            if existing.labels.get(CONFIG_LABEL) == digest:
                if existing.status == "running":
                    return Outcome.UNCHANGED
                self._call(f"start {name}", existing.start)
                return Outcome.UPDATED
            self._call(f"replace {name}", existing.remove, force=True)
            outcome = Outcome.UPDATED
        container = self._call(
            f"create {name}",
            self.client.containers.create,
            image,
            name=name,
            labels=self._labels(site, **{CONFIG_LABEL: digest}),
            restart_policy={"Name": "unless-stopped"},
            mem_limit=self.config.memory,
            nano_cpus=int(self.config.cpus * 1e9),
            **spec,
        )
        for file_name, (content, mode) in files.items():
            self._call(
                f"configure {name}",
                container.put_archive,
                files_dir,
                _tar(file_name, content, mode),
            )
        self._call(f"start {name}", container.start)
        log.info("container.started", container=name, image=image, config=digest)
        return outcome

    def ensure_app(self, spec: SiteSpec) -> Outcome:
        if spec.type is SiteType.STATIC:
            return Outcome.UNCHANGED
        self._ensure_network(spec.name)
        volumes = {naming.site_volume(spec.name): {"bind": WEBROOT, "mode": "rw"}}
        if self.config.db_socket is not None and spec.type is SiteType.WORDPRESS:
            socket_dir = str(Path(self.config.db_socket()).parent)
            volumes[socket_dir] = {"bind": DB_SOCKET_DIR, "mode": "ro"}
        container_spec = {
            "volumes": volumes,
            "network": naming.site_network(spec.name),
            "healthcheck": {
                "test": ["CMD", "php-fpm8.2", "-t"],
                "interval": 10_000_000_000,
                "timeout": 5_000_000_000,
                "retries": 3,
            },
        }
        return self._ensure_container(
            spec.name,
            naming.php_container(spec.name),
            self.config.php_image,
            container_spec,
            {},
            "/",
        )

    def remove_app(self, spec: SiteSpec) -> Outcome:
        removed = self._remove_container(naming.php_container(spec.name))
        network_gone = self._remove_network_if_unused(spec.name)
        return Outcome.DELETED if removed or network_gone else Outcome.ABSENT

    def ensure_web(self, spec: SiteSpec) -> Outcome:
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
                "interval": 10_000_000_000,
                "timeout": 5_000_000_000,
                "retries": 3,
            },
        }
        name = naming.web_container(spec.name)
        existing = self._get(self.client.containers, name)
        if existing is None or existing.status != "running":
            (run_dir / "web.sock").unlink(missing_ok=True)  # a dead nginx's socket blocks bind
        outcome = self._ensure_container(
            spec.name,
            name,
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
        container = self._get(self.client.containers, container_name)
        logs = container.logs(tail=20).decode(errors="replace") if container is not None else ""
        raise PermanentError(f"nginx of site {site} does not answer ({last})", detail=logs)

    def remove_web(self, spec: SiteSpec) -> Outcome:
        removed = self._remove_container(naming.web_container(spec.name))
        (self.site_run_dir(spec.name) / "web.sock").unlink(missing_ok=True)
        run_dir = self.site_run_dir(spec.name)
        if run_dir.exists() and not any(run_dir.iterdir()):
            run_dir.rmdir()
        network_gone = self._remove_network_if_unused(spec.name)
        return Outcome.DELETED if removed or network_gone else Outcome.ABSENT

    def _remove_container(self, name: str) -> bool:
        container = self._get(self.client.containers, name)
        if container is None:
            return False
        try:
            self._call(f"remove {name}", container.remove, force=True)
        except docker.errors.NotFound:
            return False
        log.info("container.removed", container=name)
        return True

    def upstream(self, spec: SiteSpec) -> Upstream:
        return HTTPProxy(dial=f"unix/{self.site_run_dir(spec.name) / 'web.sock'}")

    def inventory(self) -> DockerInventory:
        """Every container, volume and network with Hostplane's label: one list call each
        (containers listed sparse, so no inspect per container)."""
        label = {"label": f"{naming.MANAGED_LABEL}=true"}
        containers: dict[str, ObservedContainer] = {}
        for c in self._call(
            "list containers", self.client.containers.list, all=True, sparse=True, filters=label
        ):
            labels = c.attrs.get("Labels") or {}
            name = (c.attrs.get("Names") or ["/?"])[0].lstrip("/")
            containers[name] = ObservedContainer(
                name=name,
                site=labels.get(naming.SITE_LABEL, ""),
                running=c.attrs.get("State") == "running",
                image=str(c.attrs.get("Image", "")),
            )
        volumes = {
            v.name: (v.attrs.get("Labels") or {}).get(naming.SITE_LABEL, "")
            for v in self._call("list volumes", self.client.volumes.list, filters=label)
        }
        networks = {
            n.name: (n.attrs.get("Labels") or {}).get(naming.SITE_LABEL, "")
            for n in self._call("list networks", self.client.networks.list, filters=label)
        }
        return DockerInventory(containers, volumes, networks)

    def prune(self, kind: str, name: str) -> Outcome:
        """Remove one marked container, volume or network that no live site owns."""
        if kind == "container":
            return Outcome.DELETED if self._remove_container(name) else Outcome.ABSENT
        collection = {"volume": self.client.volumes, "network": self.client.networks}[kind]
        obj = self._get(collection, name)
        if obj is None:
            return Outcome.ABSENT
        labels = obj.attrs.get("Labels") or {}
        if labels.get(naming.MANAGED_LABEL) != "true":
            raise PermanentError(f"{kind} {name} is not Hostplane's: left alone")
        try:
            self._call(f"remove {kind} {name}", obj.remove)
        except docker.errors.NotFound:
            return Outcome.ABSENT
        return Outcome.DELETED

    def observe(self) -> frozenset[str]:
        """Sites with any labelled container, volume or network: one list call per kind."""
        label = {"label": f"{naming.MANAGED_LABEL}=true"}
        found: set[str] = set()
        for collection in (self.client.containers, self.client.volumes, self.client.networks):
            kwargs: dict[str, Any] = {"filters": label}
            if collection is self.client.containers:
                kwargs["all"] = True
            for obj in self._call("list resources", collection.list, **kwargs):
                labels = obj.attrs.get("Labels") or obj.attrs.get("Config", {}).get("Labels") or {}
                if naming.SITE_LABEL in labels:
                    found.add(labels[naming.SITE_LABEL])
        return frozenset(found)


def _connect(base_url: str, tls: Any) -> docker.DockerClient:
    """A client for `base_url`, with the API version the engine speaks. requests lets
    REQUESTS_CA_BUNDLE & co. replace the engine's CA (requests issue #3829) and would then
    refuse the engine's certificate, so the environment is ignored — for the version probe too.
    """
    probe = docker.APIClient(
        base_url=base_url, tls=tls, timeout=60, version=docker.constants.MINIMUM_DOCKER_API_VERSION
    )
    probe.trust_env = False
    try:
        version = probe.version(api_version=False)["ApiVersion"]
    finally:
        probe.close()
    client = docker.DockerClient(base_url=base_url, tls=tls, timeout=60, version=version)
    client.api.trust_env = False
    return client


def _populate_script(spec: SiteSpec) -> str:
    """Shell run in the volume; exit 10 means it changed something."""
    name = spec.name  # a validated DNS label: safe inside single quotes
    if spec.type is SiteType.WORDPRESS:
        return (
            f"cd {WEBROOT} && if [ ! -e wp-includes ]; then cp -a /usr/src/wordpress/. . && "
            "mkdir -p wp-content/uploads && chown -R 33:33 wp-content && exit 10; fi"
        )
    if spec.type is SiteType.PHP:
        body = PLACEHOLDER_PHP.format(name=name)
        target = "index.php"
    else:
        body = PLACEHOLDER_HTML.format(name=name)
        target = "index.html"
    quoted = "'" + body.replace("'", "'\\''") + "'"
    return (
        f"cd {WEBROOT} && if [ ! -e {target} ]; then printf '%s' {quoted} > {target} && exit 10; fi"
    )


def _tar(name: str, content: bytes, mode: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        info.mode = mode
        info.uid = info.gid = WWW_DATA if mode == 0o640 else 0
        info.mtime = int(time.time())
        tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()
