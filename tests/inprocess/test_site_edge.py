"""One site's part of the edge's desired state (what a site step applies) is the whole
state's (what regenerate and the reconciler apply) restricted to that site: the same code
derives both, the contributions of domains and certificates reading that site's rows alone.
On an edge changed one route at a time (as HAProxy in front is), the steps of sites,
domains, certificates and suspensions apply their site's part alone and the edge ends up
holding exactly the whole derive.

Providers are fakes (the edge a sliced one); the state store is real (SQLite), with two
sites, each with custom domains, their certificates, and a challenge being answered."""

from __future__ import annotations

import pytest

from hostplane import naming
from hostplane.kernel.store.uow import Store
from hostplane.kinds.domain.repo import domains
from hostplane.kinds.site.edge import desired_state, site_slice
from hostplane.kinds.site.repo import sites
from hostplane.kinds.tenant import requests as tenant_requests
from hostplane.providers.edge import SUSPENDED, EdgeState
from hostplane.settings import Settings
from tests.inprocess.fakes import FakeWorld, as_sets, fake_world
from tests.inprocess.helpers import ACTOR, add_domain, create_site, destroy_site, remove_domain
from tests.inprocess.plane import Plane

SHOP = ("www.shop.example", "shop.example")
BLOG = ("blog.example",)


@pytest.fixture
def acme() -> bool:
    return True


@pytest.fixture
def world(settings: Settings, store: Store, acme: bool) -> FakeWorld:
    return fake_world(settings, store, acme=acme, sliced=True)


@pytest.fixture
def two(plane: Plane) -> Plane:
    """shop and blog ACTIVE with their domains ACTIVE and certified."""
    for name, hosts in (("shop", SHOP), ("blog", BLOG)):
        assert plane.run(create_site(plane.services, name).submitted) == "SUCCEEDED"
        for host in hosts:
            plane.world.dns.point(host)
            assert plane.run(add_domain(plane.services, host, site=name)) == "SUCCEEDED"
    return plane


@pytest.fixture
def renewing(two: Plane) -> Plane:
    """One of shop's domains answering an ACME challenge (a renewal under way)."""
    plane = two
    with plane.store.unit_of_work() as uow:
        row = domains(uow).get(plane.domain(SHOP[1]).id)
        assert row is not None
        row.acme_token, row.acme_validation = "tok", "tok.thumb"
    return plane


def restricted(whole: EdgeState, route_id: str) -> EdgeState:
    routes = tuple(r for r in whole.routes if r.route_id == route_id)
    hosts = {h for r in routes for h in r.hosts}
    return EdgeState(
        routes,
        tuple(c for c in whole.certificates if c.host in hosts),
        tuple(c for c in whole.challenges if c.host in hosts),
    )


def test_a_site_s_part_is_the_whole_state_restricted_to_it(renewing: Plane):
    two = renewing
    whole = desired_state(two.services)
    assert {r.route_id for r in whole.routes} == {"site-shop", "site-blog"}
    for name, hosts in (("shop", SHOP), ("blog", BLOG)):
        site = two.site(name)
        part = desired_state(two.services, site.id)
        assert part == restricted(whole, naming.edge_route_id(name))
        assert {c.host for c in part.certificates} == set(hosts)
        assert set(part.routes[0].hosts) == {f"{name}.localhost", *hosts}
    shop = desired_state(two.services, two.site("shop").id)
    assert [(c.host, c.token) for c in shop.challenges] == [(SHOP[1], "tok")]


def test_a_slice_looks_at_the_site_s_hosts_and_those_it_gave_up(renewing: Plane):
    two = renewing
    shop = two.site("shop")
    part = site_slice(two.services, shop, gone=("old.shop.example",))
    assert part.route_id == "site-shop"
    assert part.state == desired_state(two.services, shop.id)
    assert set(part.hosts) == {"shop.localhost", *SHOP, "old.shop.example"}


def test_an_unrouted_site_has_no_part_but_its_hosts_are_looked_at(renewing: Plane):
    two = renewing
    shop = two.site("shop")
    with two.store.unit_of_work() as uow:
        row = sites(uow).get(shop.id)
        assert row is not None
        row.routed = False
    part = site_slice(two.services, shop, gone=(SHOP[0],))
    assert part.state == EdgeState(())
    assert set(part.hosts) == {"shop.localhost", SHOP[0]}
    assert {r.route_id for r in desired_state(two.services).routes} == {"site-blog"}


def serves_the_whole_derive(plane: Plane) -> bool:
    return as_sets(plane.world.edge.state) == as_sets(desired_state(plane.services))


def test_site_and_domain_steps_apply_their_site_alone_and_the_edge_holds_the_whole(two: Plane):
    journal = two.world.journal
    assert serves_the_whole_derive(two)
    assert journal.count("edge.apply_slice", "site-shop") > 0
    assert journal.count("edge.apply") == 0, "nothing is applied whole"

    assert two.run(remove_domain(two.services, SHOP[0])) == "SUCCEEDED"
    assert not two.world.edge.serves(SHOP[0])
    assert SHOP[0] not in {c.host for c in two.world.edge.state.certificates}
    assert serves_the_whole_derive(two)

    assert two.run(destroy_site(two.services, "blog")) == "SUCCEEDED"
    assert not two.world.edge.serves("blog.localhost") and not two.world.edge.serves(BLOG[0])
    assert serves_the_whole_derive(two)
    assert {r.route_id for r in two.world.edge.state.routes} == {"site-shop"}


def test_a_suspension_applies_its_tenant_s_sites_alone(two: Plane):
    shop = two.site("shop")
    assert shop.tenant is not None
    journal = two.world.journal
    journal.clear()
    sub = tenant_requests.suspend_tenant(
        two.services, name=shop.tenant.name, reason="unpaid", actor=ACTOR
    )
    assert two.run(sub) == "SUCCEEDED"
    assert journal.count("edge.apply_slice") == journal.count("edge.apply_slice", "site-shop") > 0
    assert journal.count("edge.apply") == 0
    (route,) = [r for r in two.world.edge.state.routes if r.route_id == "site-shop"]
    assert route.maintenance and route.maintenance_reason == SUSPENDED
    assert serves_the_whole_derive(two)
