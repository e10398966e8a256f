"""Shared fixtures: the real services (tests/fixtures_services.py) and a state database
on each supported backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hostplane.kernel.store.db import create_engine, migrate
from hostplane.kernel.store.uow import Store
from tests import leftovers


def pytest_sessionstart(session: pytest.Session) -> None:
    """Clear what an earlier run on this host left when it was killed before its teardown."""
    for what in leftovers.sweep():
        print(f"removed, left by an earlier test run: {what}")


pytest_plugins = [
    "tests.fixtures_services",
    "tests.fixtures_mariadb",
    "tests.fixtures_docker",
    "tests.fixtures_pdns",
    "tests.fixtures_redis",
]


@pytest.fixture(params=["sqlite", "postgresql"])
def state_db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A fresh, empty state database on SQLite and on the test PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.sqlite3'}"
    else:
        yield request.getfixturevalue("pg_database")


@pytest.fixture
def store(state_db_url: str) -> Iterator[Store]:
    engine = create_engine(state_db_url)
    migrate(engine)
    s = Store(engine)
    yield s
    s.dispose()
