"""DNS zones and their records in process (issue 16 items 1, 2, 5, 6, 7): a zone of a tenant
made on (fake) PowerDNS with the platform's SOA and NS, compensated when it fails, one
operation at a time, records replaced as whole RRsets and recorded only once PowerDNS took
them, tenants' tokens scoped to their own zones, the cascade, and the reconciler."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from hostplane.errors import ConflictError, NotFoundError, PermanentError, ValidationError
from hostplane.kernel.operations import Submitted
from hostplane.kinds.tenant import access
from hostplane.kinds.tenant import requests as tenant_requests
from hostplane.kinds.tenant.model import DEFAULT_LIMITS
from hostplane.kinds.tenant.repo import tenants
from hostplane.kinds.zone import requests as zone_requests
from hostplane.kinds.zone.repo import as_rrset, records, zones
from hostplane.kinds.zone.table import ZoneRow
from hostplane.providers.powerdns.rrsets import RRset
from tests.inprocess.helpers import ACTOR
from tests.inprocess.plane import Plane

ZONE = "example.test"
FQDN = ZONE + "."


def make_tenant(plane: Plane, name: str, plan: str | None = None) -> str:
    sub = tenant_requests.create_tenant(
        plane.services, name=name, plan=plan, actor=ACTOR, idempotency_key=None
    )
    assert plane.run(sub) == "SUCCEEDED"
    with plane.store.unit_of_work() as uow:
        row = tenants(uow).get_live(name)
        assert row is not None
        return row.id


def create(plane: Plane, name: str = ZONE, tenant: str = "acme", **kw: object) -> Submitted:
    return zone_requests.create_zone(
        plane.services, name=name, tenant=tenant, actor=ACTOR, idempotency_key=None, **kw
    )


def zone(plane: Plane, name: str = ZONE) -> ZoneRow:
    with plane.store.unit_of_work() as uow:
        row = zones(uow).get_latest(name)
        assert row is not None
        return row


def db_rrsets(plane: Plane, name: str = ZONE) -> list[RRset]:
    with plane.store.unit_of_work() as uow:
        return [as_rrset(r) for r in records(uow).of(zone(plane, name).id)]


def put(plane: Plane, name: str, rtype: str, values: list[str], **kw: object) -> Submitted:
    return zone_requests.set_rrset(
        plane.services, zone=ZONE, name=name, rtype=rtype, ttl=300, values=values,
        actor=ACTOR, **kw,
    )  # fmt: skip


@pytest.fixture
def acme_id(plane: Plane) -> str:
    return make_tenant(plane, "acme")


def test_a_zone_is_made_on_powerdns_with_the_platforms_soa_and_ns(plane: Plane, acme_id: str):
    sub = zone_requests.create_zone(
        plane.services, name="Example.TEST.", tenant="acme", actor=ACTOR, idempotency_key="k1"
    )
    again = zone_requests.create_zone(
        plane.services, name="example.test", tenant="acme", actor=ACTOR, idempotency_key="k1"
    )
    assert (again.operation_id, again.new) == (sub.operation_id, False)
    assert plane.run(sub) == "SUCCEEDED"
    row = zone(plane)
    assert (row.status, row.tenant_id) == ("ACTIVE", acme_id)
    assert plane.events(row.id) == [
        (None, "PENDING"),
        ("PENDING", "PROVISIONING"),
        ("PROVISIONING", "ACTIVE"),
    ]
    held = plane.world.zones.held[FQDN]
    soa, ns = held[(FQDN, "SOA")], held[(FQDN, "NS")]
    settings = plane.settings
    assert soa.contents[0].startswith(
        f"ns1.{settings.base_domain}. hostmaster.{settings.base_domain}."
    )
    assert soa.contents[0].endswith(f" {settings.dns_negative_ttl}")
    assert ns.contents == (f"ns1.{settings.base_domain}.",)
    assert plane.world.zones.accounts[FQDN] == plane.world.zones.owner
    with pytest.raises(ConflictError, match="already exists"):
        create(plane)


def test_a_name_another_tenants_zone_holds_is_refused(plane: Plane, acme_id: str):
    make_tenant(plane, "other")
    assert plane.run(create(plane)) == "SUCCEEDED"
    for name in (ZONE, f"shop.{ZONE}", "deep.shop.example.test"):
        with pytest.raises(ConflictError, match="held by another tenant"):
            create(plane, name, tenant="other")
    assert plane.run(create(plane, "other.test", tenant="other")) == "SUCCEEDED"
    with pytest.raises(ConflictError, match="held by another tenant"):
        create(plane, "test2.other.test", tenant="acme")
    # the zone's own tenant may host a zone below it
    assert plane.run(create(plane, f"sub.{ZONE}")) == "SUCCEEDED"


def test_a_plans_zone_limit_refuses_the_zone_too_many_naming_limit_and_usage(plane: Plane):
    limits = replace(DEFAULT_LIMITS, zones=1)
    access.save_plan(plane.services, name="onezone", limits=limits, create=True)
    make_tenant(plane, "small", plan="onezone")
    assert plane.run(create(plane, tenant="small")) == "SUCCEEDED"
    operations = len(plane.operations())
    with pytest.raises(ConflictError, match=r"limit of zones: 1 of 1 \(plan 'onezone'\)"):
        create(plane, "other.test", tenant="small")
    assert len(plane.operations()) == operations  # nothing recorded
    with plane.store.unit_of_work() as uow:
        assert zones(uow).get_latest("other.test") is None
    # a deleted zone no longer counts
    deleted = zone_requests.delete_zone(plane.services, name=ZONE, actor=ACTOR)
    assert plane.run(deleted) == "SUCCEEDED"
    assert plane.run(create(plane, "other.test", tenant="small")) == "SUCCEEDED"


@pytest.mark.parametrize(
    "name", ["", "localhost", "x.localhost", "com", "a_b.test", "*.example.test", "1.2.3.4"]
)
def test_a_zone_name_is_refused_before_anything_is_recorded(plane: Plane, acme_id: str, name: str):
    with pytest.raises(ValidationError):
        create(plane, name)
    assert [op.kind for op in plane.operations()] == ["tenant-create"]


def test_a_failed_create_removes_what_it_made_and_a_retry_makes_it(plane: Plane, acme_id: str):
    plane.world.journal.fail("zones.ensure_zone", lambda: PermanentError("PowerDNS said 422"))
    assert plane.run(create(plane)) == "FAILED"
    row = zone(plane)
    assert (row.status, row.last_error) == ("FAILED", "PowerDNS said 422")
    assert plane.world.journal.names("zones.") == ["zones.ensure_zone", "zones.remove_zone"]
    retry = zone_requests.retry_zone(plane.services, name=ZONE, actor=ACTOR)
    assert plane.run(retry) == "SUCCEEDED"
    assert zone(plane).status == "ACTIVE" and FQDN in plane.world.zones.held


def test_a_zone_another_plane_holds_is_never_changed_or_removed(plane: Plane, acme_id: str):
    plane.world.zones.plant(FQDN, "another-plane")
    assert plane.run(create(plane)) == "FAILED"
    assert "not this control plane's" in (zone(plane).last_error or "")
    assert plane.world.zones.accounts[FQDN] == "another-plane"
    assert plane.world.zones.held[FQDN] == {}


def test_records_replace_whole_rrsets_recorded_only_once_powerdns_took_them(
    plane: Plane, acme_id: str
):
    assert plane.run(create(plane)) == "SUCCEEDED"
    www = f"www.{ZONE}"
    assert plane.run(put(plane, www, "A", ["192.0.2.1"])) == "SUCCEEDED"
    assert plane.run(put(plane, "@", "TXT", ["v=spf1 -all"])) == "SUCCEEDED"
    assert plane.run(put(plane, "@", "MX", ["10 mail.example.test"])) == "SUCCEEDED"
    # adding a value: the whole RRset with both, the siblings untouched
    assert plane.run(put(plane, www, "a", ["192.0.2.1", "192.0.2.2"])) == "SUCCEEDED"
    want = [
        RRset(FQDN, "MX", 300, ("10 mail.example.test.",)),
        RRset(FQDN, "TXT", 300, ('"v=spf1 -all"',)),
        RRset(f"{www}.", "A", 300, ("192.0.2.1", "192.0.2.2")),
    ]
    assert sorted(db_rrsets(plane)) == sorted(want)
    held = plane.world.zones.held[FQDN]
    assert sorted(v for k, v in held.items() if k[1] not in ("SOA", "NS")) == sorted(want)

    # PowerDNS refuses the PATCH: the operation fails with its answer, nothing changes
    before = (db_rrsets(plane), dict(held))
    plane.world.journal.fail("zones.apply_rrsets", lambda: PermanentError("PowerDNS: 422 bad"))
    op = put(plane, www, "A", ["192.0.2.9"])
    assert plane.run(op) == "FAILED"
    assert "PowerDNS: 422 bad" in (plane.operation(op.operation_id or "").error or "")
    assert (db_rrsets(plane), dict(held)) == before
    assert zone(plane).status == "ACTIVE"

    assert (
        plane.run(
            zone_requests.delete_rrset(plane.services, zone=ZONE, name=www, rtype="A", actor=ACTOR)
        )
        == "SUCCEEDED"
    )
    assert (f"{www}.", "A") not in held
    assert [r.type for r in db_rrsets(plane)] == ["MX", "TXT"]


@pytest.mark.parametrize(
    ("name", "rtype", "values", "message"),
    [
        ("www.example.test", "A", ["300.1.1.1"], "A"),
        ("www.example.test", "AAAA", ["192.0.2.1"], "AAAA"),
        ("www.other.test", "A", ["192.0.2.1"], "not inside zone"),
        ("@", "SOA", ["x"], "SOA"),
        ("@", "NS", ["ns.example.org"], "name servers"),
        ("@", "MX", ["mail.example.test"], "MX"),
        ("www.example.test", "CNAME", ["a.example.org", "b.example.org"], "only one CNAME"),
        ("mail.example.test", "CNAME", ["elsewhere.example.org"], "CNAME cannot share"),
        ("www.example.test", "PTR", ["x.example.org"], "not supported"),
        ("www.example.test", "A", [], "at least one value"),
    ],
)
def test_an_invalid_rrset_is_refused_and_nothing_is_recorded(
    plane: Plane, acme_id: str, name: str, rtype: str, values: list[str], message: str
):
    assert plane.run(create(plane)) == "SUCCEEDED"
    assert plane.run(put(plane, f"mail.{ZONE}", "A", ["192.0.2.25"])) == "SUCCEEDED"
    ops, calls = len(plane.operations()), plane.world.journal.count("zones.apply_rrsets")
    with pytest.raises(ValidationError, match=message):
        put(plane, name, rtype, values)
    assert len(plane.operations()) == ops
    assert plane.world.journal.count("zones.apply_rrsets") == calls
    assert [r.name for r in db_rrsets(plane)] == [f"mail.{ZONE}."]


def test_one_operation_at_a_time_per_zone(plane: Plane, acme_id: str):
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        entered.set()
        assert release.wait(10)

    plane.world.journal.when("zones.ensure_zone", hold)
    first = create(plane)
    plane.submit(first)
    assert entered.wait(10)
    try:
        with pytest.raises(ConflictError, match=f"operation {first.operation_id}"):
            put(plane, f"www.{ZONE}", "A", ["192.0.2.1"])
        with pytest.raises(ConflictError):
            zone_requests.delete_zone(plane.services, name=ZONE, actor=ACTOR)
    finally:
        release.set()
    assert plane.wait(first.operation_id or "") == "SUCCEEDED"
    assert plane.run(put(plane, f"www.{ZONE}", "A", ["192.0.2.1"])) == "SUCCEEDED"


def test_a_tenants_scope_reaches_only_its_own_zones(plane: Plane, acme_id: str):
    other = make_tenant(plane, "other")
    assert plane.run(create(plane)) == "SUCCEEDED"
    with pytest.raises(NotFoundError):
        create(plane, "mine.test", tenant="acme", scope=other)
    with pytest.raises(NotFoundError):
        put(plane, f"www.{ZONE}", "A", ["192.0.2.1"], scope=other)
    with pytest.raises(NotFoundError):
        zone_requests.delete_zone(plane.services, name=ZONE, actor=ACTOR, scope=other)
    with pytest.raises(NotFoundError):
        zone_requests.delete_rrset(
            plane.services, zone=ZONE, name="@", rtype="MX", actor=ACTOR, scope=other
        )
    assert zone(plane).status == "ACTIVE"
    assert plane.run(put(plane, f"www.{ZONE}", "A", ["192.0.2.1"], scope=acme_id)) == "SUCCEEDED"
    assert plane.run(create(plane, "theirs.test", tenant="other", scope=other)) == "SUCCEEDED"


def test_delete_removes_the_zone_audited(plane: Plane, acme_id: str):
    assert plane.run(create(plane)) == "SUCCEEDED"
    assert plane.run(put(plane, f"www.{ZONE}", "A", ["192.0.2.1"])) == "SUCCEEDED"
    assert plane.run(zone_requests.delete_zone(plane.services, name=ZONE, actor=ACTOR)) == (
        "SUCCEEDED"
    )
    row = zone(plane)
    assert row.status == "DELETED" and FQDN not in plane.world.zones.held
    assert db_rrsets(plane) == []
    assert [a for a in plane.audit() if a[0].startswith("zone.")] == [
        ("zone.delete", ZONE, "allowed"),
        ("zone.deleted", ZONE, "allowed"),
    ]
    # the name is free again
    assert plane.run(create(plane)) == "SUCCEEDED"


def test_a_tenant_cascade_deletes_its_zones(plane: Plane, acme_id: str):
    assert plane.run(create(plane)) == "SUCCEEDED"
    with pytest.raises(ConflictError, match=f"still owns zones: {ZONE}"):
        tenant_requests.delete_tenant(plane.services, name="acme", cascade=False, actor=ACTOR)
    sub = tenant_requests.delete_tenant(plane.services, name="acme", cascade=True, actor=ACTOR)
    assert plane.run(sub) == "SUCCEEDED"
    assert zone(plane).status == "DELETED" and plane.world.zones.held == {}


def test_the_reconciler_repairs_rrsets_changed_by_hand_and_reports_orphans(
    plane: Plane, acme_id: str
):
    assert plane.run(create(plane)) == "SUCCEEDED"
    www = f"www.{ZONE}."
    assert plane.run(put(plane, www, "A", ["192.0.2.1"])) == "SUCCEEDED"
    assert plane.run(put(plane, "@", "TXT", ["hello"])) == "SUCCEEDED"
    fake = plane.world.zones
    fake.by_hand(FQDN, RRset(www, "A", 300, ("198.51.100.66",)))
    fake.by_hand(FQDN, None, (FQDN, "TXT"))
    fake.by_hand(FQDN, RRset(f"extra.{FQDN}", "A", 60, ("192.0.2.77",)))
    fake.plant("orphan.test.", fake.owner)
    fake.plant("stranger.test.", "another-plane")

    run = plane.reconcile(dry_run=True)
    found = {(f["kind"], f["resource"]) for f in run.findings if f["handler"] == "zone"}
    assert found == {
        ("drifted", f"rrset:{www} A"),
        ("missing", f"rrset:{FQDN} TXT"),
        ("orphaned", f"rrset:extra.{FQDN} A"),
        ("orphaned", "zone:orphan.test"),
    }
    plane.reconcile()
    held = fake.held[FQDN]
    assert held[(www, "A")].contents == ("192.0.2.1",)
    assert held[(FQDN, "TXT")].contents == ('"hello"',)
    assert (f"extra.{FQDN}", "A") in held  # reported, not removed
    assert "orphan.test." in fake.held  # removed only with prune
    plane.reconcile(prune=True)
    assert "orphan.test." not in fake.held and "stranger.test." in fake.held
    again = plane.reconcile(dry_run=True).findings
    after = {(f["kind"], f["resource"]) for f in again if f["handler"] == "zone"}
    assert after == {("orphaned", f"rrset:extra.{FQDN} A")}


def test_a_reconcile_runs_duration_includes_observing(plane: Plane, monkeypatch):
    """Observing is most of a run: its recorded duration starts before it."""
    observe = plane.world.zones.observe

    def slow() -> dict[str, tuple[RRset, ...]]:
        time.sleep(0.3)
        return observe()

    monkeypatch.setattr(plane.world.zones, "observe", slow)
    run = plane.reconcile(dry_run=True)
    assert run.duration_ms is not None and run.duration_ms >= 300, run.duration_ms
