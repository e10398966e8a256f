"""The in-process tier: per test, a fresh SQLite state store (migrated) and a fresh SQLite
workflow database, DBOS launched in this process, the real registry of kinds bound with fake
providers (tests/inprocess/fakes.py). No real service is needed.

DBOS is destroyed after each test with its registry kept (destroy_registry=False), so the
kinds' decorated workflows and steps stay registered for the next test, as DBOS's own tests
do (dbos-transact-py tests/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from dbos import DBOS

from hostplane import failpoints
from hostplane.kernel import engine as engine_module
from hostplane.kernel.kind import Registry
from hostplane.kernel.store.db import create_engine, migrate
from hostplane.kernel.store.uow import Store
from hostplane.registry import registry
from hostplane.settings import Settings
from tests.inprocess.fakes import PLATFORM_IP, FakeWorld, fake_world
from tests.inprocess.plane import Failpoints, Plane


@pytest.fixture
def settings(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in [n for n in os.environ if n.startswith("HOSTPLANE_")]:
        monkeypatch.delenv(name)
    return Settings(
        data_dir=tmp_path,
        executor_id="inprocess",
        public_ips=PLATFORM_IP,
        dns_allow_private=True,  # PLATFORM_IP is a documentation address
        domain_recheck_initial=0.01,
        domain_recheck_max=0.02,
        worker_concurrency=4,
        queue_poll_interval=0.05,
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    engine = create_engine(settings.state_database_url)
    migrate(engine)
    s = Store(engine)
    yield s
    s.dispose()


@pytest.fixture
def world(settings: Settings, store: Store) -> FakeWorld:
    return fake_world(settings, store)


@pytest.fixture
def kinds() -> Registry:
    """The registry of kinds the plane runs (a test may hand the plane another)."""
    return registry()


@pytest.fixture
def points(monkeypatch: pytest.MonkeyPatch) -> Iterator[Failpoints]:
    fp = Failpoints()
    monkeypatch.setattr(failpoints, "hit", fp.hit)
    yield fp
    fp.open_all()  # no workflow thread stays parked after its test


class QuickDBOS:
    """DBOS as the engine calls it, with one change to the engine's config: the SQLite
    notification listener polls every 10 ms instead of every second (DBOS's advice for tests),
    so that destroying DBOS does not wait up to a second for that thread to wake."""

    def __call__(self, *, config: dict[str, object]) -> DBOS:
        return DBOS(config={**config, "notification_listener_polling_interval_sec": 0.01})  # type: ignore[typeddict-item]

    def __getattr__(self, name: str) -> object:
        return getattr(DBOS, name)


@pytest.fixture
def plane(
    settings: Settings,
    store: Store,
    world: FakeWorld,
    kinds: Registry,
    points: Failpoints,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Plane]:
    monkeypatch.setattr(engine_module, "DBOS", QuickDBOS())
    p = Plane(settings, store, world, kinds)
    yield p
    points.open_all()
    p.shutdown()
