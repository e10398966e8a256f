"""A worker that dies mid-saga is replaced by one with the same executor id: DBOS recovers
the PENDING workflow, checkpointed steps are not run again, the interrupted one is (at least
once), and the end is the same as without the crash; an interrupted compensation or teardown
resumes and finishes.

Providers are fakes; the crash is a BaseException raised at one of the kernel's failpoints,
which nothing catches, so nothing after it is checkpointed (as with SIGKILL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hostplane.errors import PermanentError
from hostplane.kernel.workers import WorkerHeartbeat
from tests.inprocess.helpers import create_site, destroy_site
from tests.inprocess.plane import Failpoints, Plane

PLAN = ["files", "app", "edge", "confirm"]
CALLS = [
    "accounts.ensure",  # the tenant made for the site: its account,
    "sftp.apply_user",  # which may then log in over SFTP
    "runtime.ensure_files",
    "runtime.ensure_app",
    "edge.apply",
    "edge.apply",
    "edge.confirm",
]


@pytest.mark.parametrize(
    ("failpoint", "rerun"),
    [
        # After the app step's provider call, before its checkpoint: the step runs again.
        ("app.apply.after", ["runtime.ensure_app"]),
        # After its checkpoint, before the next step: nothing runs twice.
        ("app.apply.checkpointed", []),
    ],
)
def test_a_provision_resumes_after_a_crash_and_ends_as_without_it(
    plane: Plane, points: Failpoints, failpoint: str, rerun: list[str]
):
    """Providers are fakes. A site provisioned without a crash, then one whose worker dies
    at `failpoint` and restarts: checkpointed steps are not re-run, the interrupted step is,
    and both end the same — ACTIVE, the same events, the same step outcomes."""
    calm = create_site(plane.services, "calm").submitted
    assert plane.run(calm) == "SUCCEEDED"
    journal = plane.world.journal
    assert journal.names() == CALLS
    journal.clear()

    points.crash_at(failpoint)
    sub = create_site(plane.services, "shop").submitted
    plane.run_until_crash(sub)
    assert plane.site("shop").status == "PROVISIONING"
    plane.restart()
    assert plane.wait(sub.operation_id) == "SUCCEEDED"

    expected = list(CALLS)
    for name in rerun:
        expected.insert(expected.index(name) + 1, name)
    assert journal.names() == expected
    records = plane.steps(sub.operation_id)
    if rerun:  # the interrupted run's record stays open; the re-run finds the work done
        assert records[1:3] == [
            ("app", "apply", "running", None),
            ("app", "apply", "succeeded", "unchanged"),
        ]
        del records[1]
    assert [r[0] for r in records] == [r[0] for r in plane.steps(calm.operation_id)] == PLAN
    shop, twin = plane.site("shop"), plane.site("calm")
    assert (shop.status, shop.routed, shop.last_error) == (twin.status, twin.routed, None)
    assert plane.events(shop.id) == plane.events(twin.id)
    assert plane.world.runtime.holds() == {"calm": (True, True), "shop": (True, True)}
    assert plane.world.edge.hosts() == ["calm.localhost", "shop.localhost"]
    assert plane.operation(sub.operation_id).status == "SUCCEEDED"


def test_a_compensation_interrupted_by_a_crash_resumes_and_finishes(
    plane: Plane, points: Failpoints
):
    """Providers are fakes. The confirm step fails; the worker dies right after the app's
    undo did its work, before its checkpoint. The restarted worker replays the failure from
    its checkpoint (confirm is not called again), does not undo the edge again
    (checkpointed), undoes the app again (interrupted: at least once, ABSENT the second
    time) and then the files: FAILED, with nothing left behind."""
    journal = plane.world.journal
    journal.fail("edge.confirm", lambda: PermanentError("the edge does not serve shop.localhost"))
    points.crash_at("app.undo.after")
    sub = create_site(plane.services).submitted
    plane.run_until_crash(sub)
    assert plane.operation(sub.operation_id).status == "COMPENSATING"
    assert journal.count("runtime.remove_files") == 0
    plane.restart()
    assert plane.wait(sub.operation_id) == "FAILED"

    assert journal.count("edge.confirm") == 1
    assert journal.count("edge.confirm_gone") == 1
    assert journal.count("runtime.remove_app") == 2
    assert journal.count("runtime.remove_files") == 1
    assert [s for s in plane.steps(sub.operation_id) if s[1] == "undo"] == [
        ("edge", "undo", "succeeded", "deleted"),
        ("app", "undo", "running", None),  # the run the crash interrupted
        ("app", "undo", "succeeded", "absent"),
        ("files", "undo", "succeeded", "deleted"),
    ]
    op = plane.operation(sub.operation_id)
    assert (op.status, op.error) == ("FAILED", "the edge does not serve shop.localhost")
    assert plane.site("shop").status == "FAILED"
    assert plane.world.runtime.holds() == {}
    assert plane.world.edge.hosts() == []


def test_a_destroy_interrupted_by_a_crash_resumes_and_finishes(plane: Plane, points: Failpoints):
    """Providers are fakes. The worker dies after the app's undo was checkpointed; the
    restarted one goes on with the files, running nothing twice: DESTROYED."""
    assert plane.run(create_site(plane.services).submitted) == "SUCCEEDED"
    journal = plane.world.journal
    journal.clear()
    points.crash_at("app.undo.checkpointed")
    sub = destroy_site(plane.services)
    plane.run_until_crash(sub)
    plane.restart()
    assert plane.wait(sub.operation_id) == "SUCCEEDED"
    assert journal.names("runtime.") == ["runtime.remove_app", "runtime.remove_files"]
    assert [s[0] for s in plane.steps(sub.operation_id)] == ["domains", "edge", "app", "files"]
    assert plane.site("shop").status == "DESTROYED"
    assert plane.world.runtime.holds() == {}


def test_a_dead_worker_s_workflow_is_taken_over_by_another(plane: Plane, points: Failpoints):
    """Providers are fakes. Worker `inprocess` dies mid-provision; worker `other` starts,
    finds it silent past the limit, claims it (once) and has DBOS recover its pending
    workflow, which then ends as it would have."""
    dead = WorkerHeartbeat(plane.store, "inprocess", interval=1, dead_after=30, recover=lambda _: 0)
    dead.register()
    points.crash_at("app.apply.checkpointed")
    sub = create_site(plane.services).submitted
    plane.run_until_crash(sub)

    plane.restart(executor_id="other")  # nothing of its own to recover
    assert plane.workflow_status(sub.operation_id) == "PENDING"
    alive = WorkerHeartbeat(
        plane.store, "other", interval=1, dead_after=30, recover=plane.engine.recover_executor
    )
    alive.register()
    assert alive.take_over() == []  # `inprocess` is not silent for long enough yet
    with plane.store.unit_of_work() as uow:
        row = uow.workers.get("inprocess")
        row.heartbeat_at -= timedelta(seconds=60)
    assert alive.take_over() == ["inprocess"]
    assert alive.take_over() == []  # claimed once
    assert plane.wait(sub.operation_id) == "SUCCEEDED"
    assert plane.world.journal.names("runtime.") == ["runtime.ensure_files", "runtime.ensure_app"]
    assert plane.site("shop").status == "ACTIVE"
