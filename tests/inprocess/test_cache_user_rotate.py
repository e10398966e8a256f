"""A cache user's new password (issue 17 item 7, as database users' rotate), in process on fake
instances: shown once, sealed, applied with ACL SETUSER; a failed change leaves the old one
working; bad requests refused with what to fix; a tenant's token reaches only its own."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hostplane.errors import NotFoundError, PermanentError, ValidationError
from hostplane.kinds.cache import user_update
from hostplane.kinds.cache.repo import users
from hostplane.kinds.cache.steps import NEXT_PASSWORD, PASSWORD, SECRET_OWNER
from hostplane.kinds.tenant import access
from tests.inprocess.helpers import ACTOR
from tests.inprocess.plane import Plane
from tests.inprocess.test_caches import CACHE, HANDLE, create_cache, create_user, make_tenant


@pytest.fixture
def old(plane: Plane) -> str:
    """acme's cache with its user app: the user's first password."""
    make_tenant(plane, "acme")
    assert plane.run(create_cache(plane)) == "SUCCEEDED"
    made = create_user(plane)
    assert plane.run(made.submitted) == "SUCCEEDED" and made.password
    return made.password


def rotate(plane: Plane, key: str | None = None, name: str = "app", rotate: bool = True):
    return user_update.update_user(
        plane.services,
        cache=CACHE,
        name=name,
        actor=ACTOR,
        rotate_password=rotate,
        idempotency_key=key,
    )


def sealed(plane: Plane) -> dict[str, str | None]:
    with plane.store.unit_of_work() as uow:
        user = users(uow).get_live(HANDLE)
        assert user is not None and user.status == "ACTIVE"
        found = {n: uow.secrets.get(SECRET_OWNER, user.id, n) for n in (PASSWORD, NEXT_PASSWORD)}
    return {n: plane.services.secrets.open(s) if s else None for n, s in found.items()}


def test_a_new_password_is_shown_once_sealed_and_applied(plane: Plane, old: str):
    made = rotate(plane, key="r1")
    assert made.password and made.password != old and len(made.password) >= 32
    replayed = rotate(plane, key="r1")
    assert replayed.password is None  # shown once
    assert replayed.submitted.operation_id == made.submitted.operation_id
    assert sealed(plane) == {PASSWORD: old, NEXT_PASSWORD: made.password}  # until it succeeds
    assert plane.run(made.submitted) == "SUCCEEDED"
    assert plane.world.caches.instances[CACHE].users["app"].password == made.password
    assert sealed(plane) == {PASSWORD: made.password, NEXT_PASSWORD: None}
    run = plane.reconcile(dry_run=True)
    assert [f for f in run.findings if f["handler"] == "cache"] == []


def test_a_failed_change_leaves_the_old_password_working(plane: Plane, old: str):
    plane.world.journal.fail("caches.ensure_user", lambda: PermanentError("ACL SETUSER refused"))
    made = rotate(plane)
    assert plane.run(made.submitted) == "FAILED"
    assert plane.world.caches.instances[CACHE].users["app"].password == old
    assert sealed(plane) == {PASSWORD: old, NEXT_PASSWORD: None}


def test_bad_rotations_are_refused_with_what_to_fix(plane: Plane, old: str):
    with pytest.raises(ValidationError, match="nothing to change: give rotate_password: true"):
        rotate(plane, rotate=False)
    with pytest.raises(NotFoundError, match="has no user 'nobody'"):
        rotate(plane, name="nobody")
    assert sealed(plane) == {PASSWORD: old, NEXT_PASSWORD: None}


def test_the_api_rotates_for_the_tenant_and_no_other(plane: Plane, old: str, client: TestClient):
    make_tenant(plane, "other")
    _, theirs, _ = access.issue_token(plane.services, tenant="other", name="t", actor=ACTOR)
    _, mine, _ = access.issue_token(plane.services, tenant="acme", name="t", actor=ACTOR)
    url = f"/v1/caches/{CACHE}/users/app"
    refused = client.put(url, json={"rotate_password": True}, headers=_bearer(theirs))
    assert refused.status_code == 404
    assert client.put(url, json={}).status_code == 422
    assert client.put(url, json={"rotate_password": False}).status_code == 422
    assert client.put(url, json={"rotate_password": True, "x": 1}).status_code == 422
    answer = client.put(url, json={"rotate_password": True}, headers=_bearer(mine))
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert (
        body["user"] == "app" and body["password"] and body["connection"]["key_prefix"] == ("app:")
    )
    assert plane.wait(body["operation"]["id"]) == "SUCCEEDED"
    assert plane.world.caches.instances[CACHE].users["app"].password == body["password"]
    shown = client.get(f"/v1/caches/{CACHE}")
    assert body["password"] not in shown.text and old not in shown.text


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
