"""One site's part of the edge's desired state (what a site step applies) is the whole
state's (what regenerate and the reconciler apply) restricted to that site: the same code
derives both, the contributions of domains and certificates reading that site's rows alone.

Providers are fakes; the state store is real (SQLite), with two sites, each with custom
domains, their certificates, and a challenge being answered."""

from __future__ import annotations

import pytest

from hostplane import naming
from hostplane.kinds.domain.repo import domains
from hostplane.kinds.site.edge import desired_state, site_slice
from hostplane.kinds.site.repo import sites
from hostplane.providers.edge import EdgeState
from tests.inprocess.helpers import add_domain, create_site
from tests.inprocess.plane import Plane

SHOP = ("www.shop.example", "shop.example")
BLOG = ("blog.example",)


@pytest.fixture
def acme() -> bool:
    return True


@pytest.fixture
def two(plane: Plane) -> Plane:
    """shop and blog ACTIVE with their domains ACTIVE and certified; one of shop's domains
    answering an ACME challenge (a renewal under way)."""
    for name, hosts in (("shop", SHOP), ("blog", BLOG)):
        assert plane.run(create_site(plane.services, name).submitted) == "SUCCEEDED"
        for host in hosts:
            plane.world.dns.point(host)
            assert plane.run(add_domain(plane.services, host, site=name)) == "SUCCEEDED"
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


def test_a_site_s_part_is_the_whole_state_restricted_to_it(two: Plane):
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


def test_a_slice_looks_at_the_site_s_hosts_and_those_it_gave_up(two: Plane):
    shop = two.site("shop")
    part = site_slice(two.services, shop, gone=("old.shop.example",))
    assert part.route_id == "site-shop"
    assert part.state == desired_state(two.services, shop.id)
    assert set(part.hosts) == {"shop.localhost", *SHOP, "old.shop.example"}


def test_an_unrouted_site_has_no_part_but_its_hosts_are_looked_at(two: Plane):
    shop = two.site("shop")
    with two.store.unit_of_work() as uow:
        row = sites(uow).get(shop.id)
        assert row is not None
        row.routed = False
    part = site_slice(two.services, shop, gone=(SHOP[0],))
    assert part.state == EdgeState(())
    assert set(part.hosts) == {"shop.localhost", SHOP[0]}
    assert {r.route_id for r in desired_state(two.services).routes} == {"site-blog"}
