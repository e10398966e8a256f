"""A cache's loopback TCP port on request (issue 17 item 6), in process on fake instances: the
lowest free port of HOSTPLANE_CACHE_PORTS, in the instance's spec and the views, unique among
live caches by the state database's own index, given back by a delete, a new one for a
reassigned cache, a 409 when the range is used up, and a port changed in the database is a
config the reconciler finds different and puts right."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hostplane.errors import ConflictError
from hostplane.kinds.cache import reassign
from hostplane.kinds.cache import requests as cache_requests
from hostplane.kinds.cache.model import free_port
from hostplane.kinds.cache.repo import caches
from hostplane.kinds.cache.table import CacheRow
from tests.inprocess.helpers import ACTOR
from tests.inprocess.plane import Plane
from tests.inprocess.test_caches import cache_findings, create_cache, make_tenant


@pytest.fixture
def ports(plane: Plane, monkeypatch: pytest.MonkeyPatch) -> str:
    """A range of two ports, so that running out is one request away."""
    settings = plane.services.settings.model_copy(update={"cache_ports": "16400-16401"})
    monkeypatch.setattr(plane.services, "settings", settings)
    make_tenant(plane, "acme")
    return "16400-16401"


def port_of(plane: Plane, name: str) -> int | None:
    with plane.store.unit_of_work() as uow:
        row = caches(uow).get_latest(name)
        assert row is not None
        return row.port


def test_free_port_is_the_lowest_untaken_and_none_left_is_a_409():
    assert free_port("16400-16402", [16400, 16402]) == 16401
    assert free_port("16400-16400", []) == 16400
    with pytest.raises(ConflictError, match="HOSTPLANE_CACHE_PORTS"):
        free_port("16400-16401", [16401, 16400])


def test_a_tcp_cache_gets_the_lowest_free_port_in_its_spec_and_gives_it_back(
    plane: Plane, ports: str
):
    fake = plane.world.caches
    assert plane.run(create_cache(plane, "one", tcp=True)) == "SUCCEEDED"
    assert plane.run(create_cache(plane, "plain")) == "SUCCEEDED"
    assert plane.run(create_cache(plane, "two", tcp=True)) == "SUCCEEDED"
    assert (port_of(plane, "tc-4-acme-one"), port_of(plane, "tc-4-acme-two")) == (16400, 16401)
    assert port_of(plane, "tc-4-acme-plain") is None
    assert fake.instances["tc-4-acme-one"].spec.port == 16400
    assert fake.instances["tc-4-acme-plain"].spec.port == 0
    operations = len(plane.operations())
    with pytest.raises(ConflictError, match=r"every loopback port for caches \(16400-16401"):
        create_cache(plane, "three", tcp=True)
    assert len(plane.operations()) == operations  # nothing recorded
    deleted = cache_requests.delete_cache(plane.services, name="tc-4-acme-one", actor=ACTOR)
    assert plane.run(deleted) == "SUCCEEDED"
    assert plane.run(create_cache(plane, "three", tcp=True)) == "SUCCEEDED"
    assert port_of(plane, "tc-4-acme-three") == 16400


def test_the_database_refuses_two_live_caches_on_one_port(plane: Plane, ports: str):
    """The index, not only the request's check: a second live row with the port is refused."""
    assert plane.run(create_cache(plane, "one", tcp=True)) == "SUCCEEDED"
    with (
        pytest.raises(ConflictError, match=r"tenant_caches\.port"),
        plane.store.unit_of_work() as uow,
    ):
        first = caches(uow).get_live("tc-4-acme-one")
        assert first is not None
        caches(uow).add(
            CacheRow(
                tenant_id=first.tenant_id,
                label="race",
                name="tc-4-acme-race",
                memory_mb=8,
                persistence="none",
                port=16400,
                status="PENDING",
            )
        )
        uow.flush()


def test_a_reassigned_tcp_cache_gets_a_port_of_its_own(plane: Plane, ports: str):
    make_tenant(plane, "beta")
    assert plane.run(create_cache(plane, "main", tcp=True)) == "SUCCEEDED"
    sub = reassign.reassign_cache(
        plane.services, name="tc-4-acme-main", tenant="beta", actor=ACTOR, idempotency_key=None
    )
    assert port_of(plane, "tc-4-beta-main") == 16401  # the old row holds 16400 meanwhile
    assert plane.run(sub) == "SUCCEEDED"
    assert plane.world.caches.instances["tc-4-beta-main"].spec.port == 16401


def test_a_port_changed_in_the_database_is_a_config_the_reconciler_puts_right(
    plane: Plane, ports: str
):
    assert plane.run(create_cache(plane, "one", tcp=True)) == "SUCCEEDED"
    assert cache_findings(plane, dry_run=True) == set()
    with plane.store.unit_of_work() as uow:
        row = caches(uow).get_live("tc-4-acme-one")
        assert row is not None
        row.port = 16401
    assert cache_findings(plane) == {("drifted", "instance:tc-4-acme-one")}
    assert plane.world.caches.instances["tc-4-acme-one"].spec.port == 16401
    assert cache_findings(plane, dry_run=True) == set()


def test_the_views_show_the_port_on_loopback(plane: Plane, ports: str, client: TestClient):
    made = client.post("/v1/tenants/acme/caches", json={"name": "web", "memory_mb": 8, "tcp": True})
    assert made.status_code == 202, made.text
    assert plane.wait(made.json()["operation"]["id"]) == "SUCCEEDED"
    bad = client.post("/v1/tenants/acme/caches", json={"name": "x", "memory_mb": 8, "tcp": 1})
    assert bad.status_code == 422
    shown = client.get("/v1/caches/tc-4-acme-web").json()
    assert shown["port"] == 16400
    assert shown["connection"] | {"socket": None} == {
        "socket": None,
        "host": "127.0.0.1",
        "port": 16400,
        "user": None,
        "key_prefix": None,
    }
    user = client.post("/v1/caches/tc-4-acme-web/users", json={"name": "app", "key_prefix": "a:"})
    assert user.json()["connection"]["port"] == 16400
    listed = client.get("/v1/tenants/acme/caches").json()["items"]
    assert [c["port"] for c in listed] == [16400]
