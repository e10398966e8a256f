"""Docker engine and image fixtures (tests/services_docker.py)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from hostplane import naming
from tests.services_docker import PrivateDockerd, ensure_images


@dataclass(frozen=True)
class DockerEngine:
    host: str
    client: docker.DockerClient
    tls_host: str | None = None  # the same engine over TCP + mutual TLS (private engine only)
    tls_dir: str | None = None
    daemon: PrivateDockerd | None = None  # the private engine, to restart it


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    """The private engine with Hostplane's images; never skipped — a failure fails the test."""
    host = os.environ.get("HOSTPLANE_TEST_DOCKER_HOST")
    daemon = None if host else PrivateDockerd().start()
    host = host or daemon.host  # type: ignore[union-attr]
    try:
        ensure_images(host)
        client = docker.DockerClient(base_url=host, timeout=60)
        if daemon is not None:
            # Its data root is this run's alone (an exclusive lock) and outlives runs for its
            # images: a run killed before its end left its planes' objects there.
            _remove_leftovers(client)
            yield DockerEngine(host, client, daemon.tls_host, str(daemon.client_cert_dir), daemon)
        else:
            yield DockerEngine(host, client)
        _remove_leftovers(client)
        client.close()
    finally:
        if daemon is not None:
            daemon.stop()


def plane_id(data_dir: Path) -> str:
    """The id the control plane on `data_dir` (SQLite state) made at its first start: the
    label on every Docker object it creates."""
    with sqlite3.connect(data_dir / "state.sqlite3") as db:
        (value,) = db.execute("SELECT plane_id FROM plane").fetchone()
    return str(value)


def _remove_leftovers(client: docker.DockerClient) -> None:
    managed = {"label": f"{naming.MANAGED_LABEL}=true"}
    for container in client.containers.list(all=True, filters=managed):
        container.remove(force=True)
    for volume in client.volumes.list(filters=managed):
        volume.remove(force=True)
    for network in client.networks.list(filters=managed):
        network.remove()
