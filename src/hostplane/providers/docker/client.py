"""The connection to one Docker engine (the local socket, DOCKER_HOST, or a remote engine over
mutual TLS, spoken to in the API version it answers with) and the mapping of every call's
failure onto the two error kinds: TemporaryError (retry) or PermanentError (stop), with the
engine's answer attached."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx
import requests

from hostplane.providers.base import PermanentError, TemporaryError


class EngineClient:
    """One engine, connected on first use (so a runtime can be built while the engine is down)."""

    def __init__(self, docker_host: str | None, tls_dir: str | None) -> None:
        self.docker_host = docker_host
        self.tls_dir = tls_dir
        self._client: docker.DockerClient | None = None

    @property
    def where(self) -> str:
        return f"Docker engine at {self.docker_host or 'DOCKER_HOST/default socket'}"

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            try:
                self._client = self._open()
            except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
                raise TemporaryError(f"{self.where} is not reachable", detail=str(exc)) from exc
        return self._client

    def _open(self) -> docker.DockerClient:
        if not self.docker_host:
            return docker.from_env(timeout=60)
        tls: Any = None
        if self.tls_dir:
            d = Path(self.tls_dir)
            tls = docker.tls.TLSConfig(
                client_cert=(str(d / "cert.pem"), str(d / "key.pem")),
                ca_cert=str(d / "ca.pem"),
                verify=True,
            )
        return connect(self.docker_host, tls)

    def call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)`; NotFound passes through for the caller to decide."""
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

    def get(self, collection: Any, name: str) -> Any | None:
        """The object of that name in `collection` (containers, volumes, networks), or None."""
        try:
            return self.call(f"look up {name}", collection.get, name)
        except docker.errors.NotFound:
            return None


def connect(base_url: str, tls: Any) -> docker.DockerClient:
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
