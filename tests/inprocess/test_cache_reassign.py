"""A cache's reassign to another tenant in process (issue 17 item 6), on fake Redis instances:
the instance moved to the new tenant's name, user and socket with the old tenant's users gone,
counted against the new tenant's plan, undone in reverse when a step fails, resumed after a
crash at each step, bad requests refused with what to fix, and operator only."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hostplane.errors import ConflictError, NotFoundError, PermanentError, ValidationError
from hostplane.kinds.cache import reassign
from hostplane.kinds.cache.model import Step, reassign_plan
from hostplane.kinds.cache.repo import caches, users
from hostplane.kinds.cache.steps import PASSWORD, SECRET_OWNER
from hostplane.kinds.tenant import access
from hostplane.kinds.tenant import requests as tenant_requests
from hostplane.kinds.tenant.model import DEFAULT_LIMITS
from hostplane.services import CACHE_ADMIN_SECRET
from tests.inprocess.fakes import FakeCaches
from tests.inprocess.helpers import ACTOR
from tests.inprocess.plane import Failpoints, Plane
from tests.inprocess.test_caches import create_cache, create_user, make_tenant

OLD, NEW = "tc-4-acme-main", "tc-4-beta-main"
# Where a reassign is killed: after each step's side effect (before its record), and after
# the move's checkpoint (in process here, with SIGKILL in tests/faults).
REASSIGN_KILLS = (
    *(f"{step}.apply.after" for step in reassign_plan()),
    f"{Step.REASSIGN_MOVE}.apply.checkpointed",
)


@pytest.fixture
def two(plane: Plane) -> str:
    """acme with a cache and a user in it, and beta: the password of acme's user."""
    make_tenant(plane, "acme")
    make_tenant(plane, "beta")
    assert plane.run(create_cache(plane)) == "SUCCEEDED"
    made = create_user(plane)
    assert plane.run(made.submitted) == "SUCCEEDED"
    assert made.password is not None
    return made.password


def to_beta(plane: Plane, name: str = OLD, tenant: str = "beta", key: str | None = None):
    return reassign.reassign_cache(
        plane.services, name=name, tenant=tenant, actor=ACTOR, idempotency_key=key
    )


def rows(plane: Plane) -> dict[str, str]:
    with plane.store.unit_of_work() as uow:
        return {
            name: row.status
            for name in (OLD, NEW)
            if (row := caches(uow).get_latest(name)) is not None
        }


def admin_secrets(plane: Plane) -> set[str]:
    owner_kind, name = CACHE_ADMIN_SECRET
    with plane.store.unit_of_work() as uow:
        return {i for i in (OLD, NEW) if uow.secrets.get(owner_kind, i, name) is not None}


def moved_as_asked(plane: Plane, fake: FakeCaches) -> None:
    assert rows(plane) == {OLD: "DELETED", NEW: "ACTIVE"}
    assert set(fake.instances) == {NEW}
    instance = fake.instances[NEW]
    assert instance.alive and instance.users == {}
    assert (instance.spec.user, instance.spec.group) == ("hp-beta", "hp-beta")
    assert instance.spec.socket == Path("/fake/homes/beta/private/cache-main.sock")
    assert admin_secrets(plane) == {NEW}
    with plane.store.unit_of_work() as uow:
        assert users(uow).get_live(f"{OLD}/app") is None


def test_a_reassign_moves_the_instance_and_deletes_the_old_tenants_users(plane: Plane, two: str):
    fake = plane.world.caches
    sub = to_beta(plane)
    assert sub.target == OLD
    assert rows(plane) == {OLD: "ACTIVE", NEW: "PENDING"}
    assert plane.run(sub) == "SUCCEEDED"
    moved_as_asked(plane, fake)
    calls = [c.name for c in plane.world.journal.calls]
    assert calls.index("caches.remove_user") < calls.index("caches.relocate")
    with plane.store.unit_of_work() as uow:
        old_users = [u for u in users(uow).live() if u.name.startswith(OLD)]
        audited = [e.action for e in uow.audit.page(before=None, limit=20, target=OLD)]
    assert old_users == [] and "cache.reassigned" in audited
    # beta's own user in the moved cache works; acme's password is nowhere
    made = create_user(plane, cache=NEW)
    assert plane.run(made.submitted) == "SUCCEEDED"
    assert fake.instances[NEW].users["app"].password == made.password != two


def test_a_failed_start_is_undone_in_reverse_and_the_old_users_are_back(plane: Plane, two: str):
    fake = plane.world.caches
    plane.world.journal.fail(
        "caches.ensure", lambda: PermanentError("redis-server exited"), times=1
    )
    assert plane.run(to_beta(plane)) == "FAILED"
    assert rows(plane) == {OLD: "ACTIVE", NEW: "DELETED"}
    assert set(fake.instances) == {OLD}
    instance = fake.instances[OLD]
    assert instance.alive and instance.spec.user == "hp-acme"
    assert instance.users["app"].password == two  # put back with its sealed password
    assert admin_secrets(plane) == {OLD}
    with plane.store.unit_of_work() as uow:
        user = users(uow).get_live(f"{OLD}/app")
        assert user is not None and user.status == "ACTIVE"
        assert uow.secrets.get(SECRET_OWNER, user.id, PASSWORD) is not None
    assert plane.run(to_beta(plane)) == "SUCCEEDED"  # and it can be asked again
    moved_as_asked(plane, fake)


@pytest.mark.parametrize("failpoint", REASSIGN_KILLS)
def test_a_reassign_killed_at_a_step_resumes_and_ends_as_without_it(
    plane: Plane, points: Failpoints, two: str, failpoint: str
):
    points.crash_at(failpoint)
    sub = to_beta(plane)
    plane.run_until_crash(sub)
    plane.restart()
    assert sub.operation_id is not None
    assert plane.wait(sub.operation_id) == "SUCCEEDED"
    moved_as_asked(plane, plane.world.caches)


def test_neither_tenant_is_cascade_deleted_while_a_reassign_runs(
    plane: Plane, points: Failpoints, two: str
):
    points.crash_at(f"{Step.REASSIGN_MOVE}.apply.after")
    sub = to_beta(plane)
    plane.run_until_crash(sub)
    for tenant, why in (("acme", "in progress"), ("beta", "being made or reassigned to it")):
        with pytest.raises(ConflictError, match=why):
            tenant_requests.delete_tenant(plane.services, name=tenant, cascade=True, actor=ACTOR)
    plane.restart()
    assert sub.operation_id is not None and plane.wait(sub.operation_id) == "SUCCEEDED"
    moved_as_asked(plane, plane.world.caches)


def test_bad_reassigns_are_refused_with_what_to_fix_and_nothing_is_recorded(plane: Plane, two: str):
    with pytest.raises(ValidationError, match="belongs to tenant 'acme' already"):
        to_beta(plane, tenant="acme")
    with pytest.raises(NotFoundError, match="nobody"):
        to_beta(plane, tenant="nobody")
    with pytest.raises(NotFoundError, match="no cache"):
        to_beta(plane, name="tc-4-acme-none")
    assert plane.run(create_cache(plane, tenant="beta")) == "SUCCEEDED"
    with pytest.raises(ConflictError, match="has a cache 'main' already"):
        to_beta(plane)
    assert rows(plane) == {OLD: "ACTIVE", NEW: "ACTIVE"}


def test_the_new_tenants_plan_counts_the_moved_cache(plane: Plane, two: str):
    access.save_plan(
        plane.services, name="onecache", limits=replace(DEFAULT_LIMITS, caches=1), create=True
    )
    make_tenant(plane, "full", plan="onecache")
    assert plane.run(create_cache(plane, "other", tenant="full")) == "SUCCEEDED"
    with pytest.raises(ConflictError, match=r"limit of caches: 1 of 1"):
        to_beta(plane, tenant="full")
    assert rows(plane) == {OLD: "ACTIVE"}


def test_the_new_tenants_plan_counts_the_moved_caches_memory(plane: Plane, two: str):
    limits = replace(DEFAULT_LIMITS, cache_memory_mb=100)
    access.save_plan(plane.services, name="small-mem", limits=limits, create=True)
    make_tenant(plane, "tight", plan="small-mem")
    assert plane.run(create_cache(plane, "other", tenant="tight", memory_mb=40)) == "SUCCEEDED"
    with pytest.raises(ConflictError, match=r"cache_memory_mb: 40 of 100, 64 more asked"):
        to_beta(plane, tenant="tight")  # the moved cache has 64 MB
    assert rows(plane) == {OLD: "ACTIVE"}


def test_the_api_reassigns_for_the_operator_only(plane: Plane, two: str, client: TestClient):
    _, secret, _ = access.issue_token(plane.services, tenant="acme", name="t", actor=ACTOR)
    url = f"/v1/caches/{OLD}/reassign"
    refused = client.post(
        url, json={"tenant": "beta"}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert refused.status_code == 403 and "operator" in refused.text
    bad = client.post(url, json={"tenant": "Beta!"})
    assert bad.status_code == 422
    answer = client.post(url, json={"tenant": "beta"})
    assert answer.status_code == 202, answer.text
    assert (answer.json()["cache"], answer.json()["to"]) == (OLD, NEW)
    assert plane.wait(answer.json()["operation"]["id"]) == "SUCCEEDED"
    moved_as_asked(plane, plane.world.caches)
    shown = client.get(f"/v1/caches/{NEW}")
    assert shown.status_code == 200 and shown.json()["tenant"] == "beta"
