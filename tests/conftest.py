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


@pytest.fixture(autouse=True)
def _stopped_control_planes_cleaned() -> Iterator[None]:
    """After each test, the system users of the control planes it made (not a module's) and
    left stopped are removed: the next test's plane may use the same site names."""
    from tests.e2e import harness

    before = {id(plane) for plane in harness.PLANES}
    yield
    for plane in [p for p in harness.PLANES if id(p) not in before and not p.running]:
        plane.clean_host()
        harness.PLANES.remove(plane)


@pytest.fixture(autouse=True, scope="module")
def _control_planes_cleaned() -> Iterator[None]:
    """Every control plane a test module made is stopped (with its edge, PowerDNS and sshd)
    and its system users removed when the module ends, whatever its own teardown did: a
    tenant's user outlives its sites, and a leftover user of one plane refuses the next
    plane's site of that name."""
    from tests.e2e import harness

    yield
    for plane in harness.PLANES:  # those of earlier modules were cleaned at their end
        plane.stop()
        plane.clean_host()
    harness.PLANES.clear()


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
