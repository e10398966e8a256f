"""Tenants through the kernel, in this process with fake providers: create (its account and
SFTP access, compensated when a step fails), suspension (its sites 503 'suspended', their PHP
stopped, SFTP refused; unsuspended, what was there comes back), delete (refused while it owns
sites; with cascade, its sites' undo first, then SFTP, then the account), plan limits, sites
of their own tenant, and the scope of a tenant's token."""

from __future__ import annotations

import threading

import pytest

from hostplane.api.deps import retrying
from hostplane.errors import ConflictError, NotFoundError, PermanentError
from hostplane.kinds.site import requests as site_requests
from hostplane.kinds.tenant import access
from hostplane.kinds.tenant import requests as tenant_requests
from hostplane.kinds.tenant.model import Limits
from hostplane.kinds.tenant.repo import tenants
from hostplane.kinds.tenant.table import TenantRow
from tests.inprocess.helpers import ACTOR, create_site, destroy_site
from tests.inprocess.plane import Plane

HOST = "shop.localhost"


def tenant(plane: Plane, name: str) -> TenantRow:
    with plane.store.unit_of_work() as uow:
        row = tenants(uow).get_latest(name)
        assert row is not None
        return row


def make_tenant(plane: Plane, name: str = "acme", plan: str | None = None) -> TenantRow:
    sub = tenant_requests.create_tenant(
        plane.services, name=name, plan=plan, actor=ACTOR, idempotency_key=None
    )
    assert plane.run(sub) == "SUCCEEDED"
    return tenant(plane, name)


def site_in(plane: Plane, name: str, owner: str, type: str = "php") -> None:
    created = site_requests.create_site(
        plane.services,
        name=name,
        type=type,
        runtime=None,
        admin_email=None,
        actor=ACTOR,
        idempotency_key=None,
        tenant=owner,
    )
    assert plane.run(created.submitted) == "SUCCEEDED"


def suspend(plane: Plane, name: str = "acme", reason: str = "unpaid invoice") -> str:
    return plane.run(
        tenant_requests.suspend_tenant(plane.services, name=name, reason=reason, actor=ACTOR)
    )


def test_a_tenant_gets_its_account_then_sftp_access(plane: Plane):
    sub = tenant_requests.create_tenant(
        plane.services, name="acme", plan=None, actor=ACTOR, idempotency_key="k1"
    )
    again = tenant_requests.create_tenant(
        plane.services, name="acme", plan=None, actor=ACTOR, idempotency_key="k1"
    )
    assert (again.operation_id, again.new) == (sub.operation_id, False)
    assert plane.run(sub) == "SUCCEEDED"
    row = tenant(plane, "acme")
    assert row.status == "ACTIVE"
    assert plane.events(row.id) == [
        (None, "PENDING"),
        ("PENDING", "PROVISIONING"),
        ("PROVISIONING", "ACTIVE"),
    ]
    assert plane.world.journal.names("accounts.", "sftp.") == ["accounts.ensure", "sftp.apply_user"]
    assert plane.world.sftp.users() == ["hp-acme"]
    with pytest.raises(ConflictError, match="already exists"):
        make_tenant(plane, "acme")


def test_a_failed_step_undoes_the_account_and_a_retry_makes_it(plane: Plane):
    plane.world.journal.fail(
        "sftp.apply_user", lambda: PermanentError("sshd -t refused the config")
    )
    sub = tenant_requests.create_tenant(
        plane.services, name="acme", plan=None, actor=ACTOR, idempotency_key=None
    )
    assert plane.run(sub) == "FAILED"
    row = tenant(plane, "acme")
    assert (row.status, row.last_error) == ("FAILED", "sshd -t refused the config")
    assert plane.world.journal.names("accounts.")[-1] == "accounts.remove"
    assert plane.world.accounts.homes == set()
    assert plane.run(tenant_requests.retry_tenant(plane.services, name="acme", actor=ACTOR)) == (
        "SUCCEEDED"
    )
    assert tenant(plane, "acme").status == "ACTIVE" and plane.world.accounts.homes == {"acme"}


def test_one_operation_at_a_time_per_tenant(plane: Plane):
    make_tenant(plane)
    first = tenant_requests.suspend_tenant(plane.services, name="acme", reason="r", actor=ACTOR)
    with pytest.raises(ConflictError, match=f"operation {first.operation_id}"):
        tenant_requests.suspend_tenant(plane.services, name="acme", reason="r", actor=ACTOR)
    assert plane.run(first) == "SUCCEEDED"


def test_suspension_answers_suspended_stops_php_and_sftp_and_unsuspend_restores(plane: Plane):
    make_tenant(plane)
    make_tenant(plane, "other")
    site_in(plane, "shop", "acme")
    site_in(plane, "them", "other")
    before = plane.world.state()
    assert suspend(plane) == "SUCCEEDED"

    assert tenant(plane, "acme").status == "SUSPENDED"
    answer = plane.world.edge.get(HOST)
    assert (answer.status_code, answer.text) == (503, "Suspended")
    assert plane.world.edge.get("them.localhost").status_code == 200
    assert plane.world.runtime.holds()["shop"] == (True, False)  # its PHP stopped
    assert plane.world.sftp.users() == ["hp-other"]
    assert plane.world.journal.count("accounts.end_processes", "acme") == 1
    suspended = [a for a in plane.audit() if a[0].startswith("tenant.suspend")]
    assert suspended == [
        ("tenant.suspend", "acme", "allowed"),
        ("tenant.suspended", "acme", "allowed"),
    ]

    unsuspend = tenant_requests.unsuspend_tenant(
        plane.services, name="acme", reason="paid", actor=ACTOR
    )
    assert plane.run(unsuspend) == "SUCCEEDED"
    assert tenant(plane, "acme").status == "ACTIVE"
    assert plane.world.state() == before  # exactly what was there
    assert plane.world.sftp.users() == ["hp-acme", "hp-other"]


def test_a_failed_suspension_puts_back_what_was_there(plane: Plane):
    make_tenant(plane)
    site_in(plane, "shop", "acme")
    before = plane.world.state()
    plane.world.journal.fail("runtime.remove_app", lambda: PermanentError("php-fpm would not stop"))
    assert suspend(plane) == "FAILED"
    row = tenant(plane, "acme")
    assert (row.status, row.suspension) == ("ACTIVE", None)
    assert plane.world.state() == before
    assert plane.world.edge.get(HOST).status_code == 200


def test_delete_lists_what_it_owns_and_cascade_removes_children_first(plane: Plane):
    make_tenant(plane)
    site_in(plane, "shop", "acme")
    with pytest.raises(ConflictError, match="still owns sites: shop"):
        tenant_requests.delete_tenant(plane.services, name="acme", cascade=False, actor=ACTOR)
    plane.world.journal.clear()
    sub = tenant_requests.delete_tenant(plane.services, name="acme", cascade=True, actor=ACTOR)
    assert plane.run(sub) == "SUCCEEDED"

    assert tenant(plane, "acme").status == "DELETED"
    assert plane.site("shop").status == "DESTROYED"
    names = plane.world.journal.names("runtime.remove", "sftp.", "accounts.remove")
    assert names == [
        "runtime.remove_app",
        "runtime.remove_files",
        "sftp.apply_user",
        "accounts.remove",
    ]
    assert plane.world.runtime.holds() == {} and plane.world.accounts.homes == set()
    assert plane.world.edge.hosts() == []
    actions = [a[0] for a in plane.audit()]
    assert actions[-3:] == ["tenant.delete", "site.destroyed", "tenant.deleted"]


def test_a_plan_limit_refuses_the_site_too_many_naming_limit_and_usage(plane: Plane):
    limits = Limits(
        sites=1, databases=0, caches=0, disk_mb=10, php_workers=2, zones=0, cache_memory_mb=0
    )
    access.save_plan(plane.services, name="tiny", limits=limits, create=True)
    make_tenant(plane, plan="tiny")
    site_in(plane, "shop", "acme")
    with pytest.raises(ConflictError, match=r"limit of sites: 1 of 1 \(plan 'tiny'\)"):
        site_in(plane, "more", "acme")


def test_a_site_created_without_a_tenant_gets_one_of_its_own(plane: Plane):
    assert plane.run(create_site(plane.services).submitted) == "SUCCEEDED"
    own = tenant(plane, "shop")
    assert (own.status, own.made_for) == ("ACTIVE", "shop")
    assert plane.site("shop").tenant_id == own.id


def test_a_tenant_made_for_a_site_is_provisioning_until_that_site_made_its_account(
    plane: Plane,
):
    plane.world.journal.fail("accounts.ensure", lambda: PermanentError("useradd: disk full"))
    assert plane.run(create_site(plane.services).submitted) == "FAILED"
    own = tenant(plane, "shop")
    assert (own.status, own.made_for) == ("PROVISIONING", "shop")
    assert plane.run(destroy_site(plane.services)) == "SUCCEEDED"
    assert plane.run(create_site(plane.services).submitted) == "SUCCEEDED"  # takes it up
    assert (tenant(plane, "shop").id, tenant(plane, "shop").status) == (own.id, "ACTIVE")
    assert plane.events(own.id) == [(None, "PROVISIONING"), ("PROVISIONING", "ACTIVE")]


def test_a_tenant_whose_site_failed_before_its_account_is_deleted(plane: Plane):
    plane.world.journal.fail("accounts.ensure", lambda: PermanentError("useradd: disk full"))
    assert plane.run(create_site(plane.services).submitted) == "FAILED"
    with pytest.raises(ConflictError, match="still owns sites: shop"):
        tenant_requests.delete_tenant(plane.services, name="shop", cascade=False, actor=ACTOR)
    assert plane.run(destroy_site(plane.services)) == "SUCCEEDED"
    deleted = tenant_requests.delete_tenant(plane.services, name="shop", cascade=False, actor=ACTOR)
    assert plane.run(deleted) == "SUCCEEDED"
    assert tenant(plane, "shop").status == "DELETED"


def test_a_tenant_scope_never_reaches_another_tenants_site(plane: Plane):
    make_tenant(plane)
    other = make_tenant(plane, "other")
    site_in(plane, "shop", "acme")
    for call in (
        lambda: site_requests.destroy_site(
            plane.services,
            name="shop",
            keep_data=False,
            actor=ACTOR,
            idempotency_key=None,
            scope=other.id,
        ),
        lambda: site_requests.retry_site(plane.services, name="shop", actor=ACTOR, scope=other.id),
    ):
        with pytest.raises(NotFoundError, match="no live site is named 'shop'"):
            call()
    with plane.store.unit_of_work() as uow, pytest.raises(NotFoundError):
        tenants(uow).live_or_404("acme", other.id)


def _racing_creates(plane: Plane, count: int) -> list[str]:
    """`count` site creates in tenant acme at once, each recorded as the API records it."""
    barrier = threading.Barrier(count)
    results: list[str] = []

    def create(i: int) -> None:
        def record() -> site_requests.Created:
            return site_requests.create_site(
                plane.services,
                name=f"race{i}",
                type="static",
                runtime=None,
                admin_email=None,
                actor=ACTOR,
                idempotency_key=None,
                tenant="acme",
            )

        barrier.wait()
        try:
            retrying(None, record)
            results.append("created")
        except ConflictError as exc:
            results.append(exc.message)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_site_creates_racing_in_one_tenant_are_all_recorded_while_the_plan_has_room(
    plane: Plane,
):
    make_tenant(plane)
    assert _racing_creates(plane, 8) == ["created"] * 8


def test_site_creates_racing_past_a_limit_are_refused_by_the_limit_not_by_the_race(
    plane: Plane,
):
    limits = Limits(
        sites=3, databases=0, caches=0, disk_mb=10, php_workers=2, zones=0, cache_memory_mb=0
    )
    access.save_plan(plane.services, name="tiny", limits=limits, create=True)
    make_tenant(plane, plan="tiny")
    results = _racing_creates(plane, 6)
    assert results.count("created") == 3
    refusals = [r for r in results if r != "created"]
    assert len(refusals) == 3 and all("limit of sites: 3 of 3" in r for r in refusals), results
