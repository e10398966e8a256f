"""The in-process tier: per test, a fresh SQLite state store (migrated) and a fresh SQLite
workflow database, DBOS launched in this process, the real registry of kinds bound with fake
providers (tests/inprocess/fakes.py). No real service is needed.

DBOS is launched by the real WorkflowEngine and destroyed after each test with its registry
kept (destroy_registry=False), so the kinds' decorated workflows and steps stay registered for
the next test, as DBOS's own tests do (dbos-transact-py tests/conftest.py). Two of DBOS's
polling intervals are shortened (QuickDBOS); settings and the migrated state database are
made once per session and copied per test, into a directory in memory where there is one:
a test takes a few hundred ms at most."""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from dbos import DBOS, DBOSConfig
from fastapi.testclient import TestClient

from hostplane import failpoints
from hostplane.api.app import create_app
from hostplane.kernel import engine as engine_module
from hostplane.kernel.kind import Registry
from hostplane.kernel.store.db import create_engine, migrate
from hostplane.kernel.store.uow import Store
from hostplane.registry import registry
from hostplane.settings import Settings
from tests.inprocess.fakes import PLATFORM_IP, FakeWorld, fake_world
from tests.inprocess.plane import Failpoints, Plane


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    """The tier's settings, read once (building Settings costs as much as the rest of a
    test's set-up), from no HOSTPLANE_* variable of the environment."""
    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith("HOSTPLANE_")]:
            env.delenv(name)
        return Settings(
            data_dir=Path("/nonexistent"),
            executor_id="inprocess",
            public_ips=PLATFORM_IP,
            dns_allow_private=True,  # PLATFORM_IP is a documentation address
            domain_recheck_initial=0.01,
            domain_recheck_max=0.02,
            worker_concurrency=4,
            queue_poll_interval=0.05,
        )


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """The test's own data directory (its state and workflow databases): in memory
    (/dev/shm) where there is one, since on disk the SQLite files' syncs take most of a
    test's time; else under tmp_path."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(prefix="hostplane-inprocess-", dir=shm))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def settings(base_settings: Settings, data_dir: Path) -> Settings:
    """The test's own copy of the settings, its data in its own directory."""
    return base_settings.model_copy(update={"data_dir": data_dir})


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty state database at the newest schema, made once (migrating takes longer than
    the rest of a test): each test's store starts from a copy."""
    path = tmp_path_factory.mktemp("template") / "state.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


@pytest.fixture
def store(settings: Settings, migrated: Path) -> Iterator[Store]:
    """A fresh state store of the test's own: the migrated template, copied."""
    path = settings.data_dir / "state.sqlite3"
    assert settings.state_database_url == f"sqlite:///{path}"
    with sqlite3.connect(migrated) as source, sqlite3.connect(path) as copy:
        source.backup(copy)
    s = Store(create_engine(settings.state_database_url))
    yield s
    s.dispose()


@pytest.fixture
def acme() -> bool:
    """Whether the plane has an ACME CA (a fake one); a test module may say yes."""
    return False


@pytest.fixture
def world(settings: Settings, store: Store, acme: bool) -> FakeWorld:
    return fake_world(settings, store, acme=acme)


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
    """DBOS as the engine calls it, with two polling intervals shortened (DBOS's advice for
    tests), nothing else changed: the SQLite notification listener's (1 s), so that
    destroying DBOS does not wait for that thread to wake, and the internal queue's (1 s),
    onto which DBOS's recovery re-enqueues the workflows it finds PENDING at launch."""

    def __call__(self, *, config: DBOSConfig) -> DBOS:
        dbos = DBOS(config={**config, "notification_listener_polling_interval_sec": 0.01})
        dbos._registry.get_internal_queue()._polling_interval_sec = 0.05
        return dbos

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


OPERATOR_TOKEN = "operator-token-of-the-in-process-api-tests"


@pytest.fixture
def client(plane: Plane) -> Iterator[TestClient]:
    """The API over `plane`, as the operator."""
    app = create_app(plane.services, plane.engine, [OPERATOR_TOKEN], plane.registry)
    with TestClient(app, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}) as c:
        yield c
