"""The records a hosted zone keeps for its tenant's bound custom domains (issue 16 item 3), in
process with a fake PowerDNS whose zones the fake resolvers answer from: binding a domain in a
hosted zone writes its A record before DNS is checked (the check passes because the zone
answers), users cannot change that record, the zone cannot be deleted under it without force,
and removing the domain (or a failed addition) removes it."""

from __future__ import annotations

import pytest

from hostplane.errors import ConflictError, ValidationError
from hostplane.kinds.zone import requests as zone_requests
from hostplane.kinds.zone.repo import records, zones
from hostplane.providers.powerdns.rrsets import RRset
from tests.inprocess.fakes import PLATFORM_IP
from tests.inprocess.helpers import ACTOR, add_domain, create_site, remove_domain
from tests.inprocess.plane import Plane
from tests.inprocess.test_zones import create, put

ZONE, FQDN = "example.test", "example.test."
WWW = "www.example.test"
KEY = (WWW + ".", "A")


@pytest.fixture
def hosted(plane: Plane) -> Plane:
    """Site shop (its tenant shop) and the tenant's zone example.test, both ACTIVE."""
    assert plane.run(create_site(plane.services).submitted) == "SUCCEEDED"
    assert plane.run(create(plane, tenant="shop")) == "SUCCEEDED"
    return plane


def rows(plane: Plane) -> dict[tuple[str, str], tuple[tuple[str, ...], str | None]]:
    with plane.store.unit_of_work() as uow:
        zone = zones(uow).get_live(ZONE)
        assert zone is not None
        found = records(uow).of(zone.id)
        return {(r.name, r.type): (tuple(r.contents), r.managed_by) for r in found}


def test_binding_writes_the_record_first_and_removing_the_domain_removes_it(hosted: Plane):
    sub = add_domain(hosted.services, WWW)
    assert hosted.run(sub) == "SUCCEEDED"
    assert hosted.domain(WWW).status == "ACTIVE"
    assert hosted.world.zones.held[FQDN][KEY].contents == (PLATFORM_IP,)
    assert rows(hosted) == {KEY: ((PLATFORM_IP,), WWW)}
    order = [name for name, phase, _, _ in hosted.steps(sub.operation_id) if phase == "apply"]
    assert order[:2] == ["zone-domain-records", "dns"], order

    for change in (
        lambda: put(hosted, WWW, "A", ["192.0.2.9"]),
        lambda: zone_requests.delete_rrset(
            hosted.services, zone=ZONE, name=WWW, rtype="A", actor=ACTOR
        ),
    ):
        with pytest.raises(ConflictError, match=f"kept by the platform for custom domain {WWW}"):
            change()
    with pytest.raises(ConflictError, match=f"bound custom domains \\({WWW}\\)"):
        zone_requests.delete_zone(hosted.services, name=ZONE, actor=ACTOR)

    assert hosted.run(remove_domain(hosted.services, WWW)) == "SUCCEEDED"
    assert KEY not in hosted.world.zones.held[FQDN]
    assert rows(hosted) == {}
    assert hosted.run(put(hosted, WWW, "A", ["192.0.2.9"])) == "SUCCEEDED"  # the user's now


def test_a_users_own_record_at_the_name_fails_the_binding_and_stays(hosted: Plane):
    assert hosted.run(put(hosted, WWW, "CNAME", ["elsewhere.example.org"])) == "SUCCEEDED"
    assert hosted.run(add_domain(hosted.services, WWW)) == "FAILED"
    domain = hosted.domain(WWW)
    assert domain.status == "FAILED"
    assert f"zone {ZONE} has its own CNAME record at {WWW}." in (domain.last_error or "")
    cname = (WWW + ".", "CNAME")
    assert rows(hosted) == {cname: (("elsewhere.example.org.",), None)}
    assert hosted.world.zones.held[FQDN][cname].contents == ("elsewhere.example.org.",)


def test_a_binding_whose_dns_is_never_right_takes_its_record_back(hosted: Plane):
    """Resolvers answer another address (the zone is not the one they ask): the domain fails
    when its time is up, and the record written for it is removed (compensation)."""
    hosted.world.dns.point(WWW, "198.51.100.7")
    hosted.settings.domain_dns_timeout = 0
    assert hosted.run(add_domain(hosted.services, WWW)) == "FAILED"
    domain = hosted.domain(WWW)
    assert domain.status == "FAILED"
    assert "198.51.100.7" in (domain.last_error or "")
    assert KEY not in hosted.world.zones.held[FQDN]
    assert rows(hosted) == {}


def test_the_reconciler_puts_a_bound_domains_record_back(hosted: Plane):
    assert hosted.run(add_domain(hosted.services, WWW)) == "SUCCEEDED"
    hosted.world.zones.by_hand(FQDN, RRset(KEY[0], "A", 300, ("198.51.100.66",)))
    found = {(f["kind"], f["resource"]) for f in hosted.reconcile(dry_run=True).findings}
    assert ("drifted", f"rrset:{WWW}. A") in found
    hosted.reconcile()
    assert hosted.world.zones.held[FQDN][KEY].contents == (PLATFORM_IP,)


def test_a_zone_deleted_with_force_leaves_the_domain_removable(hosted: Plane):
    assert hosted.run(add_domain(hosted.services, WWW)) == "SUCCEEDED"
    sub = zone_requests.delete_zone(hosted.services, name=ZONE, actor=ACTOR, force=True)
    assert hosted.run(sub) == "SUCCEEDED"
    assert FQDN not in hosted.world.zones.held
    assert hosted.run(remove_domain(hosted.services, WWW)) == "SUCCEEDED"
    assert hosted.domain(WWW).status == "REMOVED"


def test_a_wildcard_is_bound_only_in_a_hosted_zone_and_serves_every_name_under_it(
    hosted: Plane,
):
    with pytest.raises(ValidationError, match="create the zone first"):
        add_domain(hosted.services, "*.elsewhere.example")
    assert hosted.run(add_domain(hosted.services, f"*.{ZONE}")) == "SUCCEEDED"
    assert hosted.domain(f"*.{ZONE}").status == "ACTIVE"
    assert rows(hosted) == {(f"*.{FQDN}", "A"): ((PLATFORM_IP,), f"*.{ZONE}")}
    edge = hosted.world.edge
    assert edge.serves(f"anything.{ZONE}") and not edge.serves(f"a.b.{ZONE}")
    assert hosted.run(add_domain(hosted.services, WWW)) == "SUCCEEDED"  # exact beside it
    assert hosted.run(remove_domain(hosted.services, f"*.{ZONE}")) == "SUCCEEDED"
    assert not edge.serves(f"anything.{ZONE}") and edge.serves(WWW)
    assert rows(hosted) == {KEY: ((PLATFORM_IP,), WWW)}
