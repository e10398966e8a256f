"""A WordPress site's database is one of its tenant's databases (issue 17 item 4), in process:
counted against the plan atomically with the site (refused at the limit, nothing written),
listed with its site and an honest status, never deleted, retried or moved by itself, open to
the tenant's own users (granted with `_` escaped, observed and repaired; the site's own
database and wp_ user are the site's), released when the site goes (kept data or not), and
gone with a cascade tenant delete."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from hostplane.errors import ConflictError, NotFoundError, PermanentError
from hostplane.kinds.database import requests as db_requests
from hostplane.kinds.database import user_requests
from hostplane.kinds.database.repo import databases, users
from hostplane.kinds.database.table import DatabaseRow
from hostplane.kinds.site import requests as site_requests
from hostplane.kinds.site.repo import sites
from hostplane.kinds.tenant import access
from hostplane.kinds.tenant import requests as tenant_requests
from hostplane.kinds.tenant.model import DEFAULT_LIMITS
from hostplane.kinds.tenant.repo import tenants
from hostplane.providers.mariadb.identifiers import ALL_PRIVILEGES
from tests.inprocess.helpers import ACTOR, EMAIL
from tests.inprocess.plane import Failpoints, Plane

WP = "wp_my_blog"  # the site my-blog's: its `-` is `_`, and `_` is a wildcard in a grant
USER = "tdu_4_acme_app"


@pytest.fixture
def onedb_acme(plane: Plane) -> str:
    """Tenant acme on a plan of two sites and one database."""
    limits = replace(DEFAULT_LIMITS, sites=2, databases=1)
    access.save_plan(plane.services, name="onedb", limits=limits, create=True)
    sub = tenant_requests.create_tenant(
        plane.services, name="acme", plan="onedb", actor=ACTOR, idempotency_key=None
    )
    assert plane.run(sub) == "SUCCEEDED"
    return "acme"


def create_site(plane: Plane, name: str = "my-blog", type: str = "wordpress", install: bool = True):
    return site_requests.create_site(
        plane.services,
        name=name,
        type=type,
        runtime=None,
        admin_email=EMAIL if type == "wordpress" and install else None,
        actor=ACTOR,
        idempotency_key=None,
        tenant="acme",
    )


def destroy(plane: Plane, name: str = "my-blog", keep_data: bool = False) -> str:
    sub = site_requests.destroy_site(
        plane.services, name=name, keep_data=keep_data, actor=ACTOR, idempotency_key=None
    )
    return plane.run(sub)


def row(plane: Plane, name: str = WP) -> DatabaseRow:
    with plane.store.unit_of_work() as uow:
        found = databases(uow).get_latest(name)
        assert found is not None
        return found


def add_user(plane: Plane) -> str:
    made = user_requests.create_user(
        plane.services, database=WP, name="app", privileges="all", actor=ACTOR, idempotency_key=None
    )
    assert plane.run(made.submitted) == "SUCCEEDED"
    assert made.password
    return made.password


def db_findings(plane: Plane, **kw: bool) -> set[tuple[str, str]]:
    run = plane.reconcile(**kw)
    return {
        (f["kind"], f["resource"]) for f in run.findings if f["handler"] in ("database", "site")
    }


def test_a_wordpress_site_counts_one_database_and_at_the_limit_nothing_is_written(
    plane: Plane, onedb_acme: str, points: Failpoints
):
    gate = points.hold_at("database.apply.after")  # the site's database made, the site not
    op_id = plane.submit(create_site(plane).submitted)
    gate.wait_reached()
    assert row(plane).status == "PROVISIONING"  # never ACTIVE before its site is
    gate.open()
    assert plane.wait(op_id) == "SUCCEEDED"
    made = row(plane)
    assert (made.status, made.site, made.label) == ("ACTIVE", "my-blog", "my-blog")
    assert plane.events(made.id) == [
        (None, "PENDING"),
        ("PENDING", "PROVISIONING"),
        ("PROVISIONING", "ACTIVE"),
    ]
    before = (len(plane.operations()), len(plane.audit()))
    limit = r"tenant 'acme' is at its plan's limit of databases: 1 of 1 \(plan 'onedb'\)"
    with pytest.raises(ConflictError, match=limit):
        create_site(plane, "shop")
    with pytest.raises(ConflictError, match=limit):
        db_requests.create_database(
            plane.services, tenant="acme", name="extra", actor=ACTOR, idempotency_key=None
        )
    with plane.store.unit_of_work() as uow:
        assert sites(uow).get_live("shop") is None
        assert databases(uow).get_live("wp_shop") is None
    assert (len(plane.operations()), len(plane.audit())) == before
    assert plane.run(create_site(plane, "shop", "php").submitted) == "SUCCEEDED"  # no database


def test_the_list_shows_it_with_its_site_and_the_tenant_owns_and_counts_it(
    plane: Plane, onedb_acme: str, client: TestClient
):
    assert plane.run(create_site(plane).submitted) == "SUCCEEDED"
    listed = client.get("/v1/tenants/acme/databases").json()["items"]
    assert [(d["name"], d["label"], d["site"], d["status"]) for d in listed] == [
        (WP, "my-blog", "my-blog", "ACTIVE")
    ]
    shown = client.get(f"/v1/databases/{WP}").json()
    assert (shown["site"], shown["connection"]["database"]) == ("my-blog", WP)
    nobody = client.get("/v1/databases/wp_a")  # site a's name: the path takes it (no 422)
    assert nobody.status_code == 404 and "no database is named 'wp_a'" in nobody.text
    tenant = client.get("/v1/tenants/acme").json()
    assert tenant["owns"]["databases"] == [WP]
    assert tenant["usage"]["databases"]["used"] == 1
    with plane.store.unit_of_work() as uow:
        owner = tenants(uow).get_live("acme")
        assert owner is not None
        assert tenant_requests.owned(uow, owner)["databases"] == [WP]


def test_delete_retry_and_reassign_of_a_sites_database_are_refused(
    plane: Plane, onedb_acme: str, client: TestClient
):
    assert plane.run(create_site(plane).submitted) == "SUCCEEDED"
    tenant_requests.create_tenant(
        plane.services, name="beta", plan=None, actor=ACTOR, idempotency_key=None
    )
    deleted = client.delete(f"/v1/databases/{WP}")
    assert deleted.status_code == 409
    assert "belongs to site 'my-blog': delete the site" in deleted.json()["message"]
    moved = client.post(f"/v1/databases/{WP}/reassign", json={"tenant": "beta"})
    assert moved.status_code == 409 and "belongs to site 'my-blog'" in moved.text
    retried = client.post(f"/v1/databases/{WP}/retry")
    assert retried.status_code == 409 and "retry the site" in retried.text
    assert ("database.delete", WP, "refused") in plane.audit()
    assert row(plane).status == "ACTIVE" and WP in plane.world.databases.databases


def test_the_tenant_adds_its_own_user_which_is_observed_and_repaired(plane: Plane, onedb_acme: str):
    assert plane.run(create_site(plane).submitted) == "SUCCEEDED"
    password = add_user(plane)
    fake = plane.world.tenant_databases
    assert fake.grants[USER] == {"wp\\_my\\_blog": ALL_PRIVILEGES}  # this database only
    assert fake.accounts[USER] == password
    # the site's database and its wp_ user are no orphan, not lost, not the database kind's
    assert db_findings(plane, prune=True) == set()
    assert WP in plane.world.databases.databases and WP in plane.world.databases.users
    del fake.accounts[USER]
    fake.grants.pop(USER)
    assert db_findings(plane) == {("missing", f"user:{USER}")}
    assert fake.accounts[USER] == password
    assert fake.grants[USER] == {"wp\\_my\\_blog": ALL_PRIVILEGES}


def test_a_site_destroy_releases_its_database_and_drops_the_tenants_users(
    plane: Plane, onedb_acme: str, points: Failpoints
):
    assert plane.run(create_site(plane).submitted) == "SUCCEEDED"
    add_user(plane)
    points.crash_at("database.undo.checkpointed")  # the last step done, the site not yet gone
    sub = site_requests.destroy_site(
        plane.services, name="my-blog", keep_data=False, actor=ACTOR, idempotency_key=None
    )
    plane.run_until_crash(sub)
    assert plane.site("my-blog").status == "DESTROYING"
    assert row(plane).status == "DELETING"  # still counted while its site is
    assert plane.world.tenant_databases.accounts == {}  # the tenant's account dropped first
    assert WP not in plane.world.databases.databases
    plane.restart()
    assert plane.wait(sub.operation_id) == "SUCCEEDED"
    gone = row(plane)
    assert (plane.site("my-blog").status, gone.status) == ("DESTROYED", "DELETED")
    with plane.store.unit_of_work() as uow:
        db_gone = uow.events.recent("database", gone.id, limit=1)[0]
        assert users(uow).get_live(USER) is None
    # released by the destroy's last transaction, the one the site leaves in
    assert (db_gone.to_status, db_gone.operation_id) == ("DELETED", sub.operation_id)
    made = db_requests.create_database(
        plane.services, tenant="acme", name="extra", actor=ACTOR, idempotency_key=None
    )
    assert plane.run(made) == "SUCCEEDED"  # its place in the plan is free


def test_kept_data_stays_on_the_server_but_is_no_longer_counted(plane: Plane, onedb_acme: str):
    """A site destroyed with keep_data leaves its database for a later site of its name: not
    one of the tenant's databases until then, and no account of the tenant on it."""
    assert plane.run(create_site(plane).submitted) == "SUCCEEDED"
    add_user(plane)
    assert destroy(plane, keep_data=True) == "SUCCEEDED"
    assert row(plane).status == "DELETED"
    assert WP in plane.world.databases.databases  # kept
    assert plane.world.tenant_databases.accounts == {}  # its grant would outlive it
    assert db_findings(plane, prune=True) == set()
    assert WP in plane.world.databases.databases  # kept data is no orphan
    restored = create_site(plane, install=False)  # takes it up (installed already), counted
    assert plane.run(restored.submitted) == "SUCCEEDED"
    assert row(plane).status == "ACTIVE"


def test_a_site_destroy_waits_for_a_user_being_added(plane: Plane, onedb_acme: str):
    assert plane.run(create_site(plane).submitted) == "SUCCEEDED"
    made = user_requests.create_user(
        plane.services, database=WP, name="app", privileges="all", actor=ACTOR, idempotency_key=None
    )
    with pytest.raises(ConflictError, match="in progress"):
        site_requests.destroy_site(
            plane.services, name="my-blog", keep_data=False, actor=ACTOR, idempotency_key=None
        )
    assert row(plane).status == "ACTIVE"
    assert plane.run(made.submitted) == "SUCCEEDED"
    sub = site_requests.destroy_site(
        plane.services, name="my-blog", keep_data=False, actor=ACTOR, idempotency_key=None
    )
    assert row(plane).status == "DELETING"
    with pytest.raises(ConflictError, match="users are added to ACTIVE databases only"):
        user_requests.create_user(
            plane.services,
            database=WP,
            name="late",
            privileges="read",
            actor=ACTOR,
            idempotency_key=None,
        )
    assert plane.run(sub) == "SUCCEEDED"
    with pytest.raises(NotFoundError):
        add_user(plane)


def test_a_failed_provision_leaves_it_failed_and_counted_and_a_retry_makes_it(
    plane: Plane, onedb_acme: str
):
    plane.world.journal.fail("installer.install", lambda: PermanentError("install refused"))
    assert plane.run(create_site(plane).submitted) == "FAILED"
    assert row(plane).status == "FAILED"  # compensated: its database dropped
    assert WP not in plane.world.databases.databases
    with pytest.raises(ConflictError, match="limit of databases"):
        db_requests.create_database(
            plane.services, tenant="acme", name="extra", actor=ACTOR, idempotency_key=None
        )
    retried = site_requests.retry_site(plane.services, name="my-blog", actor=ACTOR)
    assert plane.run(retried) == "SUCCEEDED"
    assert row(plane).status == "ACTIVE"


def test_a_cascade_tenant_delete_leaves_nothing(plane: Plane, onedb_acme: str):
    assert plane.run(create_site(plane).submitted) == "SUCCEEDED"
    add_user(plane)
    with pytest.raises(ConflictError, match=f"still owns databases: {WP}; sites: my-blog"):
        tenant_requests.delete_tenant(plane.services, name="acme", cascade=False, actor=ACTOR)
    sub = tenant_requests.delete_tenant(plane.services, name="acme", cascade=True, actor=ACTOR)
    assert plane.run(sub) == "SUCCEEDED"
    assert row(plane).status == "DELETED"
    assert (plane.world.databases.databases, plane.world.databases.users) == ({}, {})
    assert plane.world.tenant_databases.accounts == {}
    with plane.store.unit_of_work() as uow:
        assert users(uow).live() == [] and databases(uow).live() == []
