"""A real control plane (`hostctl up` in a subprocess, with its own Caddy) on each state backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.harness import ControlPlane
from tests.services import PostgresDatabases


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None means the embedded default (SQLite in the data directory)."""
    if request.param == "sqlite":
        yield None
        return
    server: PostgresDatabases = request.getfixturevalue("postgres_server")
    name = f"hp_e2e_{uuid.uuid4().hex[:10]}"
    url = server.create(name)
    yield url
    server.drop(name)


@pytest.fixture(scope="module")
def control_plane(
    backend_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    cp = ControlPlane(tmp_path_factory.mktemp("cp") / "data", database_url=backend_url).start()
    try:
        yield cp
    finally:
        cp.stop()
        cp.clean_host()  # every site's tenant has a system user, which destroying it leaves
