"""A registrable domain and every name below it belong to one tenant (the first to bind one of
them): another tenant's binding below it is refused with 409 naming the rule; the same tenant
binds freely; once the holder's names are all removed, another tenant may bind there.

Providers are fakes (DNS answers what the test points it at)."""

from __future__ import annotations

import pytest

from hostplane.errors import ConflictError
from hostplane.kinds.domain import requests as domain_requests
from hostplane.kinds.domain.repo import domains
from hostplane.kinds.site.repo import sites
from tests.inprocess.helpers import ACTOR, add_domain, remove_domain
from tests.inprocess.plane import Plane
from tests.inprocess.test_tenants import make_tenant, site_in


@pytest.fixture
def two(plane: Plane) -> Plane:
    """Tenants acme (sites a1, a2) and beta (site b1), every site ACTIVE."""
    for tenant, names in (("acme", ("a1", "a2")), ("beta", ("b1",))):
        make_tenant(plane, tenant)
        for name in names:
            site_in(plane, name, tenant)
    return plane


def bind(plane: Plane, domain: str, site: str) -> str:
    plane.world.dns.point(domain)
    return plane.run(add_domain(plane.services, domain, site=site))


def test_names_below_another_tenants_registrable_domain_are_refused(two: Plane):
    assert bind(two, "www.example.com", "a1") == "SUCCEEDED"
    for name in ("shop.example.com", "example.com", "deep.www.example.com"):
        with pytest.raises(ConflictError, match=r"below example\.com, which belongs to tenant"):
            add_domain(two.services, name, site="b1")
    with pytest.raises(ConflictError) as refused:
        add_domain(two.services, "shop.example.com", site="b1")
    assert "'acme'" in str(refused.value) and "a1" in str(refused.value)
    with two.store.unit_of_work() as uow:
        assert domains(uow).get_live("shop.example.com") is None  # nothing recorded


def test_the_same_tenant_binds_below_its_own_registrable_domain_on_any_of_its_sites(two: Plane):
    assert bind(two, "www.example.com", "a1") == "SUCCEEDED"
    assert bind(two, "example.com", "a2") == "SUCCEEDED"
    assert bind(two, "shop.example.com", "a2") == "SUCCEEDED"


def test_private_suffixes_are_public_ones_here(two: Plane):
    """`github.io` is on the list's private part: names below it are different owners', as
    are names below `co.uk`."""
    assert bind(two, "acme.github.io", "a1") == "SUCCEEDED"
    assert bind(two, "beta.github.io", "b1") == "SUCCEEDED"
    assert bind(two, "acme.co.uk", "a1") == "SUCCEEDED"
    assert bind(two, "beta.co.uk", "b1") == "SUCCEEDED"


def test_a_tenants_token_is_not_told_who_holds_it(two: Plane):
    assert bind(two, "www.example.com", "a1") == "SUCCEEDED"
    with two.store.unit_of_work() as uow:
        scope = sites(uow).live_or_404("b1").tenant_id
    with pytest.raises(ConflictError, match="belongs to another tenant") as refused:
        domain_requests.add_domain(
            two.services, site_name="b1", domain="x.example.com", actor=ACTOR, scope=scope
        )
    assert "acme" not in str(refused.value) and "a1" not in str(refused.value)


def test_once_the_holder_removed_every_name_below_it_another_tenant_may_bind(two: Plane):
    assert bind(two, "www.example.com", "a1") == "SUCCEEDED"
    assert two.run(remove_domain(two.services, "www.example.com", site="a1")) == "SUCCEEDED"
    assert bind(two, "shop.example.com", "b1") == "SUCCEEDED"
