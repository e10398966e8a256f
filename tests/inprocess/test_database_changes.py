"""A tenant's database users changed after creation (issue 17 item 2): new privileges, a new
random password shown once, the tenant's own password checked for strength; a failed change
leaves the account as it was. A suspended tenant's accounts locked, kept locked by the
reconciler, unlocked again (item 5). Against the fake tenant-database server."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hostplane.errors import ConflictError, NotFoundError, PermanentError, ValidationError
from hostplane.kinds.database import requests as db_requests
from hostplane.kinds.database import user_requests
from hostplane.kinds.database.model import Step, reassign_plan
from hostplane.kinds.database.repo import users
from hostplane.kinds.database.steps import NEXT_PASSWORD, PASSWORD, SECRET_OWNER
from hostplane.kinds.database.table import DatabaseRow
from hostplane.kinds.tenant import access
from hostplane.kinds.tenant import requests as tenant_requests
from hostplane.kinds.tenant.model import DEFAULT_LIMITS
from hostplane.kinds.tenant.repo import tenants
from hostplane.kinds.tenant.steps import account_of
from hostplane.providers.mariadb.identifiers import ALL_PRIVILEGES, READ_PRIVILEGES, grant_pattern
from tests.inprocess.helpers import ACTOR
from tests.inprocess.plane import Failpoints, Plane
from tests.inprocess.test_databases import DB, USER, create_db, create_user, make_tenant
from tests.inprocess.test_databases import status as status_of

STRONG = "Correct-Horse-Battery-9"


@pytest.fixture
def made(plane: Plane) -> str:
    """acme's database with its user `app` (all privileges); the user's first password."""
    make_tenant(plane, "acme")
    assert plane.run(create_db(plane)) == "SUCCEEDED"
    made = create_user(plane)
    assert plane.run(made.submitted) == "SUCCEEDED"
    assert made.password
    return made.password


def update(plane: Plane, **kw: object) -> user_requests.UserSubmitted:
    kw.setdefault("database", DB)
    kw.setdefault("name", "app")
    return user_requests.update_user(plane.services, actor=ACTOR, **kw)  # type: ignore[arg-type]


def sealed(plane: Plane, name: str = PASSWORD) -> str | None:
    with plane.store.unit_of_work() as uow:
        user = users(uow).get_live(USER)
        assert user is not None
        found = uow.secrets.get(SECRET_OWNER, user.id, name)
    return plane.services.secrets.open(found) if found else None


def privileges(plane: Plane) -> str:
    with plane.store.unit_of_work() as uow:
        user = users(uow).get_live(USER)
        assert user is not None and user.status == "ACTIVE"
        return user.privileges


def test_a_rotated_password_is_shown_once_and_replaces_the_old_one(plane: Plane, made: str):
    fake = plane.world.tenant_databases
    first = update(plane, rotate_password=True, idempotency_key="r1")
    assert first.password and first.password != made and len(first.password) >= 32
    replayed = update(plane, rotate_password=True, idempotency_key="r1")
    assert replayed.password is None
    assert replayed.submitted.operation_id == first.submitted.operation_id
    assert fake.accounts[USER] == made  # the old one until the operation ran
    assert plane.run(first.submitted) == "SUCCEEDED"
    assert fake.accounts[USER] == first.password
    assert sealed(plane) == first.password and sealed(plane, NEXT_PASSWORD) is None
    assert privileges(plane) == "all"
    # the reconciler now puts back the new password, not the old one
    del fake.accounts[USER]
    plane.reconcile()
    assert fake.accounts[USER] == first.password
    assert "database.user.updated" in [a[0] for a in plane.audit()]


def test_privileges_change_and_the_tenants_own_password_is_kept_unshown(plane: Plane, made: str):
    fake = plane.world.tenant_databases
    sub = update(plane, privileges="read")
    assert sub.password is None
    assert plane.run(sub.submitted) == "SUCCEEDED"
    assert fake.grants[USER] == {grant_pattern(DB): READ_PRIVILEGES}
    assert privileges(plane) == "read" and fake.accounts[USER] == made
    own = update(plane, password=STRONG, privileges="all")
    assert own.password is None  # never shown back
    assert plane.run(own.submitted) == "SUCCEEDED"
    assert fake.accounts[USER] == STRONG and sealed(plane) == STRONG
    assert fake.grants[USER] == {grant_pattern(DB): ALL_PRIVILEGES}


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("Short-1a", "characters long"),
        ("correct horse battery staple 9X", "spaces"),
        ("correcthorsebatterystaple", "three kinds"),
        ("Xy1-app-0123456789", "user's name"),
        ("Ab1-Ab1-Ab1-Ab1-Ab1-", "distinct"),
        ("Pässwörter-Sind-Gut-1", "non-ASCII"),
    ],
)
def test_a_weak_password_is_refused_saying_why(plane: Plane, made: str, password: str, says: str):
    with pytest.raises(ValidationError, match=says) as caught:
        update(plane, password=password)
    assert password not in str(caught.value)
    with pytest.raises(ValidationError, match=says):
        create_user(plane, password=password)  # checked before the name is found taken
    assert sealed(plane) == made


def test_bad_updates_are_refused_before_anything_is_recorded(plane: Plane, made: str):
    before = len(plane.operations())
    with pytest.raises(ValidationError, match="nothing to change"):
        update(plane)
    with pytest.raises(ValidationError, match="not both"):
        update(plane, rotate_password=True, password=STRONG)
    with pytest.raises(ValidationError, match="privileges 'write'"):
        update(plane, privileges="write")
    with pytest.raises(NotFoundError, match="no user 'nobody'"):
        update(plane, name="nobody", rotate_password=True)
    other = make_tenant(plane, "other")
    with pytest.raises(NotFoundError):
        update(plane, rotate_password=True, scope=other)
    assert len(plane.operations()) == before + 1  # other's create only
    running = update(plane, privileges="read")
    with pytest.raises(ConflictError, match="in progress"):
        update(plane, rotate_password=True)
    assert plane.run(running.submitted) == "SUCCEEDED"


def test_a_failed_update_leaves_the_account_as_it_was(plane: Plane, made: str):
    fake = plane.world.tenant_databases
    plane.world.journal.fail(
        "tenant_databases.ensure_account", lambda: PermanentError("MariaDB said no")
    )
    sub = update(plane, rotate_password=True, privileges="read")
    assert plane.run(sub.submitted) == "FAILED"
    assert fake.accounts[USER] == made
    assert fake.grants[USER] == {grant_pattern(DB): ALL_PRIVILEGES}
    assert privileges(plane) == "all"
    assert sealed(plane) == made and sealed(plane, NEXT_PASSWORD) is None
    assert "MariaDB said no" in (plane.operation(sub.submitted.operation_id).error or "")


def suspend(plane: Plane, tenant: str = "acme") -> str:
    sub = tenant_requests.suspend_tenant(plane.services, name=tenant, reason="unpaid", actor=ACTOR)
    return plane.run(sub)


def unsuspend(plane: Plane, tenant: str = "acme") -> str:
    sub = tenant_requests.unsuspend_tenant(plane.services, name=tenant, reason="paid", actor=ACTOR)
    return plane.run(sub)


def test_suspension_locks_the_tenants_accounts_and_the_reconciler_keeps_them_locked(
    plane: Plane, made: str
):
    fake = plane.world.tenant_databases
    make_tenant(plane, "other")
    assert plane.run(create_db(plane, "shop", tenant="other")) == "SUCCEEDED"
    theirs = create_user(plane, database="tdb_5_other_shop")
    assert plane.run(theirs.submitted) == "SUCCEEDED"
    assert suspend(plane) == "SUCCEEDED"
    assert fake.locked == {USER}  # the other tenant's account is left alone
    # a user made while suspended is made locked; its password still checked
    later = create_user(plane, name="late")
    assert plane.run(later.submitted) == "SUCCEEDED"
    assert fake.locked == {USER, "tdu_4_acme_late"}
    # unlocked by hand while suspended: locked again by the reconciler
    fake.locked.discard(USER)
    run = plane.reconcile()
    found = {(f["kind"], f["resource"]) for f in run.findings if f["handler"] == "database"}
    assert found == {("drifted", f"lock:{USER}")}
    assert USER in fake.locked and fake.accounts[USER] == made
    assert unsuspend(plane) == "SUCCEEDED"
    assert fake.locked == set()
    fake.locked.add(USER)  # locked by hand while it is not suspended
    plane.reconcile()
    assert fake.locked == set()
    assert [f for f in plane.reconcile().findings if f["handler"] == "database"] == []


def test_a_suspension_that_fails_leaves_the_accounts_unlocked(plane: Plane, made: str):
    fake = plane.world.tenant_databases
    plane.world.journal.fail(
        "tenant_databases.lock_account", lambda: PermanentError("MariaDB is read-only")
    )
    assert suspend(plane) == "FAILED"
    assert fake.locked == set()
    with plane.store.unit_of_work() as uow:
        tenant = tenants(uow).get_live("acme")
        assert tenant is not None and tenant.status == "ACTIVE" and tenant.suspension is None
    assert suspend(plane) == "SUCCEEDED"
    assert fake.locked == {USER}


NEW = "tdb_4_beta_shop"


@pytest.fixture
def two(plane: Plane, made: str) -> str:
    """acme's database with a table and its user; tenant beta; the user's password."""
    make_tenant(plane, "beta")
    plane.world.tenant_databases.tables[DB] = {"orders", "customers"}
    return made


def reassign(plane: Plane, tenant: str = "beta", name: str = DB, **kw: object):
    return db_requests.reassign_database(
        plane.services, name=name, tenant=tenant, actor=ACTOR, **kw
    )


def rows(plane: Plane) -> dict[str, tuple[str, str]]:
    """Every database row's MariaDB name → (its tenant, its status)."""
    with plane.store.unit_of_work() as uow:
        return {
            d.name: (tenants(uow).get(d.tenant_id).name, d.status)  # type: ignore[union-attr]
            for d in uow.session.query(DatabaseRow).all()
        }


def test_a_reassign_moves_the_tables_and_drops_the_old_tenants_users(plane: Plane, two: str):
    fake = plane.world.tenant_databases
    sub = reassign(plane)
    assert rows(plane) == {DB: ("acme", "ACTIVE"), NEW: ("beta", "PENDING")}
    with pytest.raises(ConflictError, match="PENDING"):
        create_db(plane, "shop", tenant="beta")  # the new name is taken while it moves
    with pytest.raises(ConflictError, match="in progress"):
        create_user(plane, name="late")
    assert plane.run(sub) == "SUCCEEDED"
    assert rows(plane) == {DB: ("acme", "DELETED"), NEW: ("beta", "ACTIVE")}
    assert fake.databases == {NEW} and fake.tables == {NEW: {"orders", "customers"}}
    assert fake.accounts == {}  # acme's user lost its access with its account
    with plane.store.unit_of_work() as uow:
        assert users(uow).live() == []
    theirs = create_user(plane, database=NEW, name="app")
    assert plane.run(theirs.submitted) == "SUCCEEDED"
    assert fake.grants["tdu_4_beta_app"] == {grant_pattern(NEW): ALL_PRIVILEGES}
    assert {"database.reassign", "database.reassigned"} <= {a[0] for a in plane.audit()}
    assert [f for f in plane.reconcile().findings if f["handler"] == "database"] == []


def test_bad_reassigns_are_refused_saying_what_to_fix(plane: Plane, two: str):
    access.save_plan(
        plane.services, name="onedb", limits=replace(DEFAULT_LIMITS, databases=1), create=True
    )
    make_tenant(plane, "full", plan="onedb")
    assert plane.run(create_db(plane, "x", tenant="full")) == "SUCCEEDED"
    before = len(plane.operations())
    with pytest.raises(ValidationError, match="belongs to tenant 'acme' already"):
        reassign(plane, "acme")
    with pytest.raises(NotFoundError, match="no tenant is named 'ghost'"):
        reassign(plane, "ghost")
    with pytest.raises(NotFoundError, match="no database"):
        reassign(plane, name="tdb_4_acme_none")
    with pytest.raises(ConflictError, match="limit of databases: 1 of 1"):
        reassign(plane, "full")
    assert plane.run(create_db(plane, "shop", tenant="beta")) == "SUCCEEDED"
    with pytest.raises(ConflictError, match="has a database 'shop' already"):
        reassign(plane)
    assert len(plane.operations()) == before + 1


def test_a_reassign_that_fails_is_undone_and_the_old_user_works_again(plane: Plane, two: str):
    fake = plane.world.tenant_databases
    plane.world.journal.fail(
        "tenant_databases.move_tables", lambda: PermanentError("lock wait timeout")
    )
    sub = reassign(plane)
    assert plane.run(sub) == "FAILED"
    assert rows(plane) == {DB: ("acme", "ACTIVE"), NEW: ("beta", "DELETED")}
    assert fake.databases == {DB} and fake.tables == {DB: {"orders", "customers"}}
    assert fake.accounts == {USER: two}
    plane.world.tenant_databases.views[DB] = {"report"}
    refused = reassign(plane)
    assert plane.run(refused) == "FAILED"
    assert "views" in (plane.operation(refused.operation_id).error or "")
    assert plane.world.journal.count("tenant_databases.remove_account") == 1  # before views


# Where a reassign is killed: after each step's side effect that changes MariaDB (before its
# record), and after the tables' checkpoint (in process here, with SIGKILL in tests/faults).
REASSIGN_KILLS = (
    *(f"{step}.apply.after" for step in reassign_plan()[1:]),
    f"{Step.REASSIGN_TABLES}.apply.checkpointed",
)


@pytest.mark.parametrize("failpoint", REASSIGN_KILLS)
def test_a_reassign_killed_at_a_step_resumes_and_ends_as_without_it(
    plane: Plane, points: Failpoints, two: str, failpoint: str
):
    points.crash_at(failpoint)
    sub = reassign(plane)
    plane.run_until_crash(sub)
    plane.restart()
    assert plane.wait(sub.operation_id) == "SUCCEEDED"
    fake = plane.world.tenant_databases
    assert fake.databases == {NEW} and fake.tables == {NEW: {"orders", "customers"}}
    assert fake.accounts == {}
    assert rows(plane) == {DB: ("acme", "DELETED"), NEW: ("beta", "ACTIVE")}


def test_a_delete_with_backup_dumps_into_the_tenants_private_folder_first(plane: Plane, two: str):
    fake = plane.world.tenant_databases
    journal = plane.world.journal
    journal.clear()
    sub = db_requests.delete_database(
        plane.services, name=DB, actor=ACTOR, backup=True, idempotency_key="d1"
    )
    with pytest.raises(ConflictError, match="different request"):
        db_requests.delete_database(plane.services, name=DB, actor=ACTOR, idempotency_key="d1")
    options = plane.operation(sub.operation_id).options or {}
    path = f"/fake/homes/acme/private/{options['backup_file']}"
    assert path.endswith(".sql.gz") and DB in path
    assert plane.run(sub) == "SUCCEEDED"
    with plane.store.unit_of_work() as uow:
        acme = account_of(tenants(uow).get_live("acme"))  # type: ignore[arg-type]
    uid, _ = plane.world.accounts.ids(acme)
    assert fake.dumps == {path: (uid, ["customers", "orders"])}
    assert journal.names("tenant_databases.")[:3] == [
        "tenant_databases.dump_database",
        "tenant_databases.remove_account",
        "tenant_databases.remove_database",
    ]
    assert status_of(plane, DB) == "DELETED"


def test_a_dump_that_fails_stops_the_delete_before_anything_is_dropped(plane: Plane, two: str):
    fake = plane.world.tenant_databases
    plane.world.journal.fail(
        "tenant_databases.dump_database", lambda: PermanentError("mariadb-dump: disk full")
    )
    sub = db_requests.delete_database(plane.services, name=DB, actor=ACTOR, backup=True)
    assert plane.run(sub) == "FAILED"
    assert "disk full" in (plane.operation(sub.operation_id).error or "")
    assert DB in fake.databases and fake.accounts == {USER: two} and fake.dumps == {}
    assert status_of(plane, DB) == "FAILED"
    retried = db_requests.retry_database(plane.services, name=DB, actor=ACTOR)
    assert plane.run(retried) == "SUCCEEDED"  # the delete again, with its dump
    assert len(fake.dumps) == 1 and fake.databases == set()
