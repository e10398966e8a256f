"""Tenants' databases and their users in process (issue 17 items 1, 2, 5): a database made
on (fake) MariaDB and counted against the plan, a user whose password is shown once and kept
sealed, tenants' scopes, a failed user compensated, the cascade delete, and the reconciler
repairing a dropped account and a changed or extra grant, pruning orphans."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hostplane.errors import ConflictError, NotFoundError, PermanentError, ValidationError
from hostplane.kinds.database import requests as db_requests
from hostplane.kinds.database import user_requests
from hostplane.kinds.database.repo import databases, users
from hostplane.kinds.database.steps import PASSWORD, SECRET_OWNER
from hostplane.kinds.tenant import access
from hostplane.kinds.tenant import requests as tenant_requests
from hostplane.kinds.tenant.model import DEFAULT_LIMITS
from hostplane.kinds.tenant.repo import tenants
from hostplane.providers.mariadb.identifiers import ALL_PRIVILEGES, READ_PRIVILEGES, grant_pattern
from tests.inprocess.helpers import ACTOR
from tests.inprocess.plane import Plane

DB = "tdb_4_acme_shop"
USER = "tdu_4_acme_app"


def make_tenant(plane: Plane, name: str, plan: str | None = None) -> str:
    sub = tenant_requests.create_tenant(
        plane.services, name=name, plan=plan, actor=ACTOR, idempotency_key=None
    )
    assert plane.run(sub) == "SUCCEEDED"
    with plane.store.unit_of_work() as uow:
        row = tenants(uow).get_live(name)
        assert row is not None
        return row.id


def create_db(plane: Plane, name: str = "shop", tenant: str = "acme", **kw: object):
    return db_requests.create_database(
        plane.services, tenant=tenant, name=name, actor=ACTOR, idempotency_key=None, **kw
    )


def create_user(plane: Plane, name: str = "app", database: str = DB, **kw: object):
    kw.setdefault("privileges", "all")
    return user_requests.create_user(
        plane.services, database=database, name=name, actor=ACTOR, idempotency_key=None, **kw
    )


@pytest.fixture
def acme_id(plane: Plane) -> str:
    return make_tenant(plane, "acme")


def status(plane: Plane, name: str) -> str:
    with plane.store.unit_of_work() as uow:
        row = databases(uow).get_latest(name)
        assert row is not None
        return row.status


def test_a_database_and_a_user_are_made_with_a_sealed_password_shown_once(
    plane: Plane, acme_id: str
):
    sub = create_db(plane)
    assert sub.target == DB
    assert plane.run(sub) == "SUCCEEDED"
    assert status(plane, DB) == "ACTIVE"
    fake = plane.world.tenant_databases
    assert DB in fake.databases
    with pytest.raises(ConflictError, match="already"):
        create_db(plane)
    made = user_requests.create_user(
        plane.services,
        database=DB,
        name="app",
        privileges="read",
        actor=ACTOR,
        idempotency_key="u1",
    )
    assert made.submitted.target == USER and made.password and len(made.password) >= 32
    replayed = user_requests.create_user(
        plane.services,
        database=DB,
        name="app",
        privileges="read",
        actor=ACTOR,
        idempotency_key="u1",
    )
    assert replayed.password is None  # shown once, never again
    assert replayed.submitted.operation_id == made.submitted.operation_id
    assert plane.run(made.submitted) == "SUCCEEDED"
    assert fake.accounts[USER] == made.password
    assert fake.grants[USER] == {grant_pattern(DB): READ_PRIVILEGES}
    with plane.store.unit_of_work() as uow:
        user = users(uow).get_live(USER)
        assert user is not None and user.status == "ACTIVE"
        sealed = uow.secrets.get(SECRET_OWNER, user.id, PASSWORD)
    assert sealed is not None and made.password not in sealed
    # names are the tenant's: one user of a name, whatever the database
    assert plane.run(create_db(plane, "blog")) == "SUCCEEDED"
    with pytest.raises(ConflictError, match="already"):
        create_user(plane, database="tdb_4_acme_blog")


def test_names_are_validated_before_anything_is_recorded(plane: Plane, acme_id: str):
    for bad in ("a-b", "A", "x" * 25, "a%b"):
        with pytest.raises(ValidationError):
            create_db(plane, bad)
    assert [op.kind for op in plane.operations()] == ["tenant-create"]


def test_the_plans_database_limit_counts_the_tenants_databases(plane: Plane):
    access.save_plan(
        plane.services, name="onedb", limits=replace(DEFAULT_LIMITS, databases=1), create=True
    )
    make_tenant(plane, "small", plan="onedb")
    assert plane.run(create_db(plane, "one", tenant="small")) == "SUCCEEDED"
    with pytest.raises(ConflictError, match=r"limit of databases: 1 of 1"):
        create_db(plane, "two", tenant="small")
    deleted = db_requests.delete_database(plane.services, name="tdb_5_small_one", actor=ACTOR)
    assert plane.run(deleted) == "SUCCEEDED"
    assert plane.run(create_db(plane, "two", tenant="small")) == "SUCCEEDED"


def test_another_tenants_scope_sees_nothing(plane: Plane, acme_id: str):
    other = make_tenant(plane, "other")
    assert plane.run(create_db(plane)) == "SUCCEEDED"
    with pytest.raises(NotFoundError):
        db_requests.delete_database(plane.services, name=DB, actor=ACTOR, scope=other)
    with pytest.raises(NotFoundError):
        create_user(plane, scope=other)
    with pytest.raises(NotFoundError):
        create_db(plane, "x", tenant="acme", scope=other)
    assert status(plane, DB) == "ACTIVE"


def test_a_failed_user_is_compensated_and_can_be_deleted(plane: Plane, acme_id: str):
    assert plane.run(create_db(plane)) == "SUCCEEDED"
    plane.world.journal.fail(
        "tenant_databases.ensure_account", lambda: PermanentError("MariaDB said no")
    )
    made = create_user(plane)
    assert plane.run(made.submitted) == "FAILED"
    assert USER not in plane.world.tenant_databases.accounts
    with plane.store.unit_of_work() as uow:
        user = users(uow).get_live(USER)
        assert user is not None and user.status == "FAILED"
    sub = user_requests.delete_user(plane.services, database=DB, name="app", actor=ACTOR)
    assert plane.run(sub) == "SUCCEEDED"
    with plane.store.unit_of_work() as uow:
        assert users(uow).get_live(USER) is None


def test_deleting_a_database_drops_its_users_and_is_audited(plane: Plane, acme_id: str):
    assert plane.run(create_db(plane)) == "SUCCEEDED"
    made = create_user(plane)
    assert plane.run(made.submitted) == "SUCCEEDED"
    sub = db_requests.delete_database(plane.services, name=DB, actor=ACTOR)
    assert plane.run(sub) == "SUCCEEDED"
    fake = plane.world.tenant_databases
    assert (fake.databases, fake.accounts) == (set(), {})
    assert status(plane, DB) == "DELETED"
    with plane.store.unit_of_work() as uow:
        assert users(uow).get_live(USER) is None
    actions = [a[0] for a in plane.audit()]
    assert "database.delete" in actions and "database.deleted" in actions


def test_a_tenant_cascade_deletes_its_databases_and_users(plane: Plane, acme_id: str):
    assert plane.run(create_db(plane)) == "SUCCEEDED"
    assert plane.run(create_user(plane).submitted) == "SUCCEEDED"
    with pytest.raises(ConflictError):
        tenant_requests.delete_tenant(plane.services, name="acme", cascade=False, actor=ACTOR)
    sub = tenant_requests.delete_tenant(plane.services, name="acme", cascade=True, actor=ACTOR)
    assert plane.run(sub) == "SUCCEEDED"
    fake = plane.world.tenant_databases
    assert (fake.databases, fake.accounts) == (set(), {})
    assert status(plane, DB) == "DELETED"
    with plane.store.unit_of_work() as uow:
        assert users(uow).get_live(USER) is None


def test_the_reconciler_repairs_accounts_and_grants_and_prunes_orphans(plane: Plane, acme_id: str):
    assert plane.run(create_db(plane)) == "SUCCEEDED"
    made = create_user(plane)
    assert plane.run(made.submitted) == "SUCCEEDED"
    fake = plane.world.tenant_databases
    clean = plane.reconcile(dry_run=True).findings
    assert [f for f in clean if f["handler"] == "database"] == []
    # a dropped account, then a changed grant and an extra one made by hand
    del fake.accounts[USER]
    fake.grants.pop(USER)
    fake.databases |= {"tdb_9_someone_x"}  # marked as ours, no row: an orphan
    fake.accounts["tdu_9_someone_y"] = "pw"
    run = plane.reconcile()
    found = {(f["kind"], f["resource"]) for f in run.findings if f["handler"] == "database"}
    assert found == {
        ("missing", f"user:{USER}"),
        ("orphaned", "database:tdb_9_someone_x"),
        ("orphaned", "user:tdu_9_someone_y"),
    }
    assert fake.accounts[USER] == made.password  # put back with its sealed password
    assert fake.grants[USER] == {grant_pattern(DB): ALL_PRIVILEGES}
    fake.grants[USER] = {grant_pattern(DB): READ_PRIVILEGES, "other": READ_PRIVILEGES}
    run = plane.reconcile()
    found = {(f["kind"], f["resource"]) for f in run.findings if f["handler"] == "database"}
    assert ("drifted", f"grant:{USER} on {DB}") in found
    assert ("drifted", f"grant:{USER} on other") in found
    assert fake.grants[USER] == {grant_pattern(DB): ALL_PRIVILEGES}
    # orphans go only with prune
    assert "tdb_9_someone_x" in fake.databases
    plane.reconcile(prune=True)
    assert "tdb_9_someone_x" not in fake.databases
    assert "tdu_9_someone_y" not in fake.accounts
    assert DB in fake.databases and USER in fake.accounts


def test_a_database_gone_from_mariadb_is_reported_lost_never_made_empty(plane: Plane, acme_id: str):
    assert plane.run(create_db(plane)) == "SUCCEEDED"
    plane.world.tenant_databases.databases.discard(DB)
    run = plane.reconcile()
    found = {(f["kind"], f["resource"]) for f in run.findings if f["handler"] == "database"}
    assert found == {("lost", f"database:{DB}")}
    assert DB not in plane.world.tenant_databases.databases
