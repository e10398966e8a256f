"""A tenant's database users changed after creation (issue 17 item 2): new privileges, a new
random password shown once, the tenant's own password checked for strength; a failed change
leaves the account as it was. Against the fake tenant-database server."""

from __future__ import annotations

import pytest

from hostplane.errors import ConflictError, NotFoundError, PermanentError, ValidationError
from hostplane.kinds.database import requests as db_requests
from hostplane.kinds.database.repo import users
from hostplane.kinds.database.steps import NEXT_PASSWORD, PASSWORD, SECRET_OWNER
from hostplane.providers.mariadb.identifiers import ALL_PRIVILEGES, READ_PRIVILEGES, grant_pattern
from tests.inprocess.helpers import ACTOR
from tests.inprocess.plane import Plane
from tests.inprocess.test_databases import DB, USER, create_db, create_user, make_tenant

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


def update(plane: Plane, **kw: object) -> db_requests.UserSubmitted:
    kw.setdefault("database", DB)
    kw.setdefault("name", "app")
    return db_requests.update_user(plane.services, actor=ACTOR, **kw)  # type: ignore[arg-type]


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
