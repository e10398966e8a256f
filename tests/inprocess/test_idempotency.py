"""Every step's apply (and undo) run a second time changes nothing: the providers report
UNCHANGED (or ABSENT) and the state database is as it was — what a re-run after a crash,
or a reconcile's repair, relies on (invariant 4).

Providers are fakes that keep their state, so "nothing changed" is checked on what they
hold; the real providers' idempotency is tested against the real systems."""

from __future__ import annotations

from hostplane.kernel import saga
from hostplane.kernel.outcome import Outcome
from tests.inprocess.helpers import EMAIL, create_site, destroy_site
from tests.inprocess.plane import Plane


def snapshot(plane: Plane, op_id: str) -> tuple[object, ...]:
    """What the fakes hold, the site's row, the operation's row, the site's events."""
    site, op = plane.site("shop"), plane.operation(op_id)
    return (
        plane.world.state(),
        (site.status, site.routed, site.last_error, site.version),
        (op.status, op.error, op.finished_at, op.active_target),
        plane.events(site.id),
    )


def test_every_apply_run_again_changes_nothing(plane: Plane):
    """Providers are fakes. After a provision, each step of the plan applied again (as a
    resumed workflow or a repair would) reports UNCHANGED, is recorded as such, and leaves
    the fakes, the site and the operation as they were."""
    sub = create_site(plane.services, type="wordpress", email=EMAIL).submitted
    op_id = sub.operation_id
    assert plane.run(sub) == "SUCCEEDED"
    plan = [name for name, *_ in plane.steps(op_id)]
    assert plan == ["database", "files", "app", "edge", "confirm", "install"]
    before = snapshot(plane, op_id)

    outcomes = [saga.run_step(op_id, name, "apply") for name in plan]
    assert outcomes == [Outcome.UNCHANGED] * len(plan)
    assert snapshot(plane, op_id) == before
    assert plane.steps(op_id)[len(plan) :] == [
        (name, "apply", "succeeded", "unchanged") for name in plan
    ]


def test_every_undo_run_again_finds_nothing_to_remove(plane: Plane):
    """Providers are fakes. After a destroy, each step of the teardown undone again reports
    ABSENT (or UNCHANGED) and changes nothing."""
    assert plane.run(create_site(plane.services, type="wordpress").submitted) == "SUCCEEDED"
    sub = destroy_site(plane.services)
    op_id = sub.operation_id
    assert plane.run(sub) == "SUCCEEDED"
    teardown = [name for name, *_ in plane.steps(op_id)]
    assert teardown == ["domains", "edge", "app", "files", "database"]
    before = snapshot(plane, op_id)
    assert before[0] == ({}, plane.world.edge.state, {}, {}, {})

    outcomes = [saga.run_step(op_id, name, "undo") for name in teardown]
    assert not any(outcome.changed for outcome in outcomes), outcomes
    assert snapshot(plane, op_id) == before


def test_a_second_submission_of_an_operation_runs_nothing(plane: Plane):
    """Providers are fakes. The workflow id is the operation id: submitting the same
    operation again (a client retrying, a resubmission racing the first) runs no step."""
    sub = create_site(plane.services).submitted
    assert plane.run(sub) == "SUCCEEDED"
    calls = len(plane.world.journal.calls)
    plane.engine.submit(sub.operation_id, sub.kind)
    assert plane.wait(sub.operation_id) == "SUCCEEDED"
    assert len(plane.world.journal.calls) == calls
    assert len(plane.steps(sub.operation_id)) == 4
