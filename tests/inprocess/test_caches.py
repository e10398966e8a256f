"""Tenants' caches and their users in process (issue 17 items 6-8), on fake Redis instances
(`FakeCaches`): a cache made as its tenant's instance and counted against the plan, a user
whose password is shown once and kept sealed, every bad input refused with what to fix, the
API's answers, tenants' scopes, the cascade delete, suspension turning users off and on, and
the reconciler restarting, rewriting and putting back what was changed by hand."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hostplane.errors import ConflictError, NotFoundError, PermanentError, ValidationError
from hostplane.kinds.cache import requests as cache_requests
from hostplane.kinds.cache.repo import caches, users
from hostplane.kinds.cache.steps import PASSWORD, SECRET_OWNER
from hostplane.kinds.tenant import access
from hostplane.kinds.tenant import requests as tenant_requests
from hostplane.kinds.tenant.model import DEFAULT_LIMITS
from hostplane.kinds.tenant.repo import tenants
from hostplane.services import CACHE_ADMIN_SECRET
from tests.inprocess.fakes import FakeAclUser, FakeCaches, FakeInstance
from tests.inprocess.helpers import ACTOR
from tests.inprocess.plane import Failpoints, Plane

CACHE = "tc-4-acme-main"
HANDLE = f"{CACHE}/app"


def make_tenant(plane: Plane, name: str, plan: str | None = None) -> str:
    sub = tenant_requests.create_tenant(
        plane.services, name=name, plan=plan, actor=ACTOR, idempotency_key=None
    )
    assert plane.run(sub) == "SUCCEEDED"
    with plane.store.unit_of_work() as uow:
        row = tenants(uow).get_live(name)
        assert row is not None
        return row.id


def create_cache(plane: Plane, name: str = "main", tenant: str = "acme", **kw: object):
    kw.setdefault("memory_mb", 64)
    kw.setdefault("persistence", "none")
    return cache_requests.create_cache(
        plane.services, tenant=tenant, name=name, actor=ACTOR, idempotency_key=None, **kw
    )


def create_user(plane: Plane, name: str = "app", cache: str = CACHE, **kw: object):
    kw.setdefault("key_prefix", "app:")
    return cache_requests.create_user(
        plane.services, cache=cache, name=name, actor=ACTOR, idempotency_key=None, **kw
    )


@pytest.fixture
def acme_id(plane: Plane) -> str:
    return make_tenant(plane, "acme")


@pytest.fixture
def fake(plane: Plane) -> FakeCaches:
    return plane.world.caches


def status(plane: Plane, name: str) -> str:
    with plane.store.unit_of_work() as uow:
        row = caches(uow).get_latest(name)
        assert row is not None
        return row.status


def cache_findings(plane: Plane, **kw: bool) -> set[tuple[str, str]]:
    run = plane.reconcile(**kw)
    return {(f["kind"], f["resource"]) for f in run.findings if f["handler"] == "cache"}


def test_a_cache_runs_as_its_tenant_and_a_user_gets_a_password_shown_once(
    plane: Plane, acme_id: str, fake: FakeCaches
):
    sub = create_cache(plane, memory_mb=128, persistence="aof")
    assert sub.target == CACHE
    assert plane.run(sub) == "SUCCEEDED"
    assert status(plane, CACHE) == "ACTIVE"
    spec = fake.instances[CACHE].spec
    assert (spec.user, spec.group) == ("hp-acme", "hp-acme")
    assert spec.socket == Path("/fake/homes/acme/private/cache-main.sock")
    assert (spec.maxmemory_mb, spec.persistence, spec.port) == (128, "aof", 0)
    with plane.store.unit_of_work() as uow:
        owner_kind, name = CACHE_ADMIN_SECRET
        assert uow.secrets.get(owner_kind, CACHE, name) is not None
    made = cache_requests.create_user(
        plane.services,
        cache=CACHE,
        name="app",
        key_prefix="app:",
        actor=ACTOR,
        idempotency_key="u1",
    )
    assert made.submitted.target == HANDLE and made.password and len(made.password) >= 32
    replayed = cache_requests.create_user(
        plane.services,
        cache=CACHE,
        name="app",
        key_prefix="app:",
        actor=ACTOR,
        idempotency_key="u1",
    )
    assert replayed.password is None  # shown once, never again
    assert replayed.submitted.operation_id == made.submitted.operation_id
    assert plane.run(made.submitted) == "SUCCEEDED"
    assert fake.instances[CACHE].users["app"] == FakeAclUser("app:", made.password, True)
    with plane.store.unit_of_work() as uow:
        user = users(uow).get_live(HANDLE)
        assert user is not None and user.status == "ACTIVE"
        sealed = uow.secrets.get(SECRET_OWNER, user.id, PASSWORD)
    assert sealed is not None and made.password not in sealed


def test_every_bad_input_is_refused_with_what_to_fix_and_nothing_is_recorded(
    plane: Plane, acme_id: str
):
    most = plane.settings.cache_max_memory_mb
    refused = [
        (dict(name="Main"), ValidationError, "cache name 'Main' is not valid: use 1-24"),
        (dict(name="a_b"), ValidationError, "lowercase letters, digits and hyphens"),
        (dict(name="x" * 25), ValidationError, "is not valid"),
        (dict(memory_mb=3), ValidationError, f"from 4 to {most}"),
        (dict(memory_mb=most + 1), ValidationError, f"memory_mb {most + 1} is out of bounds"),
        (dict(persistence="rdb"), ValidationError, "use 'none'"),
        (dict(tenant="nobody"), NotFoundError, "nobody"),
    ]
    for kw, error, message in refused:
        with pytest.raises(error, match=message):
            create_cache(plane, **kw)  # type: ignore[arg-type]
    assert [op.kind for op in plane.operations()] == ["tenant-create"]
    assert plane.run(create_cache(plane)) == "SUCCEEDED"
    with pytest.raises(ConflictError, match="has a cache 'main' already"):
        create_cache(plane)
    for kw, message in (
        (dict(name="default"), "kept by the platform"),
        (dict(name="Bad"), "cache user name 'Bad' is not valid"),
        (dict(key_prefix="app:*"), "no glob characters"),
        (dict(key_prefix=""), "key prefix '' is not valid"),
    ):
        with pytest.raises(ValidationError, match=message):
            create_user(plane, **kw)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match="no cache is named 'tc-4-acme-nope'"):
        create_user(plane, cache="tc-4-acme-nope")
    assert plane.run(create_user(plane).submitted) == "SUCCEEDED"
    with pytest.raises(ConflictError, match="has a user 'app' already"):
        create_user(plane)


def test_the_plans_cache_limit_counts_the_tenants_caches(plane: Plane):
    access.save_plan(
        plane.services, name="onecache", limits=replace(DEFAULT_LIMITS, caches=1), create=True
    )
    make_tenant(plane, "small", plan="onecache")
    assert plane.run(create_cache(plane, "one", tenant="small")) == "SUCCEEDED"
    with pytest.raises(ConflictError, match=r"limit of caches: 1 of 1"):
        create_cache(plane, "two", tenant="small")
    deleted = cache_requests.delete_cache(plane.services, name="tc-5-small-one", actor=ACTOR)
    assert plane.run(deleted) == "SUCCEEDED"
    assert plane.run(create_cache(plane, "two", tenant="small")) == "SUCCEEDED"


def test_the_plans_cache_memory_limit_counts_the_live_caches_memory_together(
    plane: Plane, client: TestClient
):
    limits = replace(DEFAULT_LIMITS, cache_memory_mb=100)
    access.save_plan(plane.services, name="small-mem", limits=limits, create=True)
    make_tenant(plane, "small", plan="small-mem")
    assert plane.run(create_cache(plane, "one", tenant="small", memory_mb=60)) == "SUCCEEDED"
    operations = len(plane.operations())
    with pytest.raises(ConflictError, match=r"limit of cache_memory_mb: 60 of 100, 41 more asked"):
        create_cache(plane, "two", tenant="small", memory_mb=41)
    assert len(plane.operations()) == operations  # nothing recorded
    assert plane.run(create_cache(plane, "two", tenant="small", memory_mb=40)) == "SUCCEEDED"
    with plane.store.unit_of_work() as uow:
        owner = tenants(uow).get_live("small")
        assert owner is not None
        assert tenant_requests.measured(uow, owner) == {"cache_memory_mb": 100}
    usage = client.get("/v1/tenants/small").json()["usage"]["cache_memory_mb"]
    assert usage == {"limit": 100, "used": 100, "over": False}
    deleted = cache_requests.delete_cache(plane.services, name="tc-5-small-one", actor=ACTOR)
    assert plane.run(deleted) == "SUCCEEDED"
    assert plane.run(create_cache(plane, "three", tenant="small", memory_mb=60)) == "SUCCEEDED"


def test_another_tenants_scope_sees_nothing(plane: Plane, acme_id: str):
    other = make_tenant(plane, "other")
    assert plane.run(create_cache(plane)) == "SUCCEEDED"
    with pytest.raises(NotFoundError):
        cache_requests.delete_cache(plane.services, name=CACHE, actor=ACTOR, scope=other)
    with pytest.raises(NotFoundError):
        create_user(plane, scope=other)
    with pytest.raises(NotFoundError):
        create_cache(plane, "x", tenant="acme", scope=other)
    assert status(plane, CACHE) == "ACTIVE"


def test_a_failed_start_leaves_the_cache_failed_and_a_retry_makes_it(
    plane: Plane, acme_id: str, fake: FakeCaches
):
    plane.world.journal.fail("caches.ensure", lambda: PermanentError("redis-server exited"))
    assert plane.run(create_cache(plane)) == "FAILED"
    assert status(plane, CACHE) == "FAILED"
    assert CACHE not in fake.instances  # the started step was undone
    assert plane.run(cache_requests.retry_cache(plane.services, name=CACHE, actor=ACTOR)) == (
        "SUCCEEDED"
    )
    assert status(plane, CACHE) == "ACTIVE" and CACHE in fake.instances


def test_deleting_a_cache_removes_its_instance_and_users_audited(
    plane: Plane, acme_id: str, fake: FakeCaches
):
    assert plane.run(create_cache(plane)) == "SUCCEEDED"
    made = create_user(plane)
    assert plane.run(made.submitted) == "SUCCEEDED"
    gone = cache_requests.delete_user(plane.services, cache=CACHE, name="app", actor=ACTOR)
    assert plane.run(gone) == "SUCCEEDED"
    assert fake.instances[CACHE].users == {}
    assert plane.run(create_user(plane, "other", key_prefix="o:").submitted) == "SUCCEEDED"
    sub = cache_requests.delete_cache(plane.services, name=CACHE, actor=ACTOR)
    assert plane.run(sub) == "SUCCEEDED"
    assert fake.instances == {}
    assert status(plane, CACHE) == "DELETED"
    with plane.store.unit_of_work() as uow:
        assert users(uow).get_live(f"{CACHE}/other") is None
        owner_kind, name = CACHE_ADMIN_SECRET
        assert uow.secrets.get(owner_kind, CACHE, name) is None
    actions = [a[0] for a in plane.audit()]
    for action in ("cache.user.delete", "cache.user.deleted", "cache.delete", "cache.deleted"):
        assert action in actions


def test_a_tenant_cascade_deletes_its_caches(plane: Plane, acme_id: str, fake: FakeCaches):
    assert plane.run(create_cache(plane)) == "SUCCEEDED"
    assert plane.run(create_user(plane).submitted) == "SUCCEEDED"
    with pytest.raises(ConflictError):
        tenant_requests.delete_tenant(plane.services, name="acme", cascade=False, actor=ACTOR)
    sub = tenant_requests.delete_tenant(plane.services, name="acme", cascade=True, actor=ACTOR)
    assert plane.run(sub) == "SUCCEEDED"
    assert fake.instances == {}
    assert status(plane, CACHE) == "DELETED"
    with plane.store.unit_of_work() as uow:
        assert users(uow).get_live(HANDLE) is None


def test_suspension_turns_the_tenants_cache_users_off_and_back_on(
    plane: Plane, acme_id: str, fake: FakeCaches
):
    assert plane.run(create_cache(plane)) == "SUCCEEDED"
    assert plane.run(create_user(plane).submitted) == "SUCCEEDED"
    suspend = tenant_requests.suspend_tenant(
        plane.services, name="acme", reason="unpaid", actor=ACTOR
    )
    assert plane.run(suspend) == "SUCCEEDED"
    assert fake.instances[CACHE].users["app"].enabled is False
    spared = plane.world.accounts.spared["acme"]  # its processes ended, but the instance
    assert spared(fake.instances[CACHE].pid) and not spared(fake.instances[CACHE].pid + 1)
    # while suspended, the reconciler keeps it off (it is as desired: nothing to find)
    assert cache_findings(plane) == set()
    assert fake.instances[CACHE].users["app"].enabled is False
    unsuspend = tenant_requests.unsuspend_tenant(
        plane.services, name="acme", reason="paid", actor=ACTOR
    )
    assert plane.run(unsuspend) == "SUCCEEDED"
    assert fake.instances[CACHE].users["app"].enabled is True


def test_the_reconciler_restarts_rewrites_puts_users_back_and_prunes_only_with_prune(
    plane: Plane, acme_id: str, fake: FakeCaches
):
    assert plane.run(create_cache(plane)) == "SUCCEEDED"
    made = create_user(plane)
    assert plane.run(made.submitted) == "SUCCEEDED"
    assert made.password is not None
    assert cache_findings(plane, dry_run=True) == set()
    instance = fake.instances[CACHE]
    instance.alive = False  # killed
    assert cache_findings(plane) == {("drifted", f"instance:{CACHE}")}
    assert instance.alive
    instance.config_intact = False  # edited by hand
    assert cache_findings(plane) == {("drifted", f"instance:{CACHE}")}
    assert instance.config_intact
    # an ACL user edited by hand (another password, a wider prefix), one made by hand
    instance.users["app"] = FakeAclUser("", "guessable", True)
    instance.users["intruder"] = FakeAclUser("", "x", True)
    found = cache_findings(plane)
    assert found == {("drifted", f"user:{HANDLE}"), ("orphaned", f"user:{CACHE}/intruder")}
    assert instance.users["app"] == FakeAclUser("app:", made.password, True)
    assert "intruder" in instance.users  # orphans go only with prune
    # the instance gone whole: made again, with its users
    del fake.instances[CACHE]
    assert cache_findings(plane) == {("missing", f"instance:{CACHE}")}
    assert fake.instances[CACHE].users["app"] == FakeAclUser("app:", made.password, True)
    # a marked instance no row is behind: an orphan; an unmarked one is never listed
    fake.instances["tc-9-someone-x"] = FakeInstance(replace(instance.spec, name="tc-9-someone-x"))
    fake.instances[CACHE].users["intruder"] = FakeAclUser("", "x", True)
    found = cache_findings(plane)
    assert found == {
        ("orphaned", "instance:tc-9-someone-x"),
        ("orphaned", f"user:{CACHE}/intruder"),
    }
    assert "tc-9-someone-x" in fake.instances
    cache_findings(plane, prune=True)
    assert "tc-9-someone-x" not in fake.instances
    assert set(fake.instances[CACHE].users) == {"app"}
    assert status(plane, CACHE) == "ACTIVE"


def test_a_user_being_made_is_no_orphan_even_with_prune(
    plane: Plane, acme_id: str, fake: FakeCaches, points: Failpoints
):
    assert plane.run(create_cache(plane)) == "SUCCEEDED"
    gate = points.hold_at("cache-user.apply.after")  # in Redis, its row still PROVISIONING
    made = create_user(plane)
    op_id = plane.submit(made.submitted)
    gate.wait_reached()
    assert "app" in fake.instances[CACHE].users
    assert cache_findings(plane, prune=True) == set()
    assert "app" in fake.instances[CACHE].users
    gate.open()
    assert plane.wait(op_id) == "SUCCEEDED"
    assert fake.instances[CACHE].users["app"].password == made.password


def test_the_api_answers_4xx_saying_what_to_fix_and_never_shows_a_password_again(
    plane: Plane, acme_id: str, client: TestClient
):
    url = "/v1/tenants/acme/caches"
    for body, code, message in (
        ({"name": "Bad", "memory_mb": 64}, 422, "lowercase letters"),
        ({"name": "main", "memory_mb": 2}, 422, "memory_mb"),
        ({"name": "main", "memory_mb": 10**7}, 422, "memory_mb 10000000 is out of bounds"),
        ({"name": "main", "memory_mb": 64, "persistence": "rdb"}, 422, "persistence"),
    ):
        answer = client.post(url, json=body)
        assert answer.status_code == code, answer.text
        assert message in answer.text
    answer = client.post("/v1/tenants/nobody/caches", json={"name": "main", "memory_mb": 64})
    assert answer.status_code == 404 and "nobody" in answer.text
    answer = client.post(url, json={"name": "main", "memory_mb": 64, "persistence": "aof"})
    assert answer.status_code == 202, answer.text
    assert answer.json()["cache"] == CACHE
    assert plane.wait(answer.json()["operation"]["id"]) == "SUCCEEDED"
    again = client.post(url, json={"name": "main", "memory_mb": 64})
    assert again.status_code == 409 and "already" in again.text
    made = client.post(f"/v1/caches/{CACHE}/users", json={"name": "app", "key_prefix": "a:"})
    assert made.status_code == 202, made.text
    password = made.json()["password"]
    assert password and made.json()["connection"] == {
        "socket": "/fake/homes/acme/private/cache-main.sock",
        "host": None,
        "port": None,
        "user": "app",
        "key_prefix": "a:",
    }
    assert plane.wait(made.json()["operation"]["id"]) == "SUCCEEDED"
    bad = client.post(f"/v1/caches/{CACHE}/users", json={"name": "b", "key_prefix": "*"})
    assert bad.status_code == 422 and "glob" in bad.text
    listed = client.get(url).json()["items"]
    assert [(c["name"], c["memory_mb"], c["persistence"]) for c in listed] == [(CACHE, 64, "aof")]
    shown = client.get(f"/v1/caches/{CACHE}")
    user_list = client.get(f"/v1/caches/{CACHE}/users")
    for answer in (shown, user_list):
        assert answer.status_code == 200 and password not in answer.text
    assert shown.json()["users"][0]["connection"]["socket"].endswith("private/cache-main.sock")
    assert [u["name"] for u in user_list.json()["items"]] == ["app"]
    assert client.get("/v1/caches/tc-4-acme-nope").status_code == 404
    gone = client.delete(f"/v1/caches/{CACHE}/users/app")
    assert gone.status_code == 202 and plane.wait(gone.json()["operation"]["id"]) == "SUCCEEDED"
    deleted = client.delete(f"/v1/caches/{CACHE}")
    assert deleted.status_code == 202
    assert plane.wait(deleted.json()["operation"]["id"]) == "SUCCEEDED"
    assert client.get(f"/v1/caches/{CACHE}").status_code == 404
