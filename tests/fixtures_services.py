"""Session fixtures for the real servers (tests/services.py), started lazily on first use."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.services import PostgresDatabases, PrivatePostgres


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresDatabases]:
    url = os.environ.get("HOSTPLANE_TEST_POSTGRES_URL")
    if url:
        yield PostgresDatabases(url)
        return
    server = PrivatePostgres().start()
    try:
        yield PostgresDatabases(server.url)
    finally:
        server.stop()


@pytest.fixture
def pg_database(postgres_server: PostgresDatabases) -> Iterator[str]:
    """A fresh, empty database for one test; dropped afterwards with anything derived from it."""
    name = f"hp_{uuid.uuid4().hex[:12]}"
    url = postgres_server.create(name)
    try:
        yield url
    finally:
        postgres_server.drop(name)
