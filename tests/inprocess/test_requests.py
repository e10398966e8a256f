"""Recording intent: one active operation per target (a second request is a ConflictError
naming the running operation), an Idempotency-Key answers the first operation again, and
an operation recorded but never submitted is found and run by `resubmit_lost`.

Providers are fakes: this tier tests kernel.operations, the kinds' requests and the engine."""

from __future__ import annotations

import pytest

from hostplane.errors import ConflictError
from hostplane.kernel.operations import new_operation
from tests.inprocess.helpers import create_site, destroy_site, retry_site
from tests.inprocess.plane import Failpoints, Plane


def test_a_second_request_on_a_busy_site_names_the_running_operation(
    plane: Plane, points: Failpoints
):
    """Providers are fakes. While a provision runs (held at its app step), a destroy or a
    retry of the site is refused (409) naming the provision; once it is done the destroy is
    accepted."""
    gate = points.hold_at("app.apply.before")
    sub = create_site(plane.services).submitted
    plane.submit(sub)
    gate.wait_reached()
    running = f"site 'shop' has operation {sub.operation_id} \\(provision\\) in progress"
    with pytest.raises(ConflictError, match=running):
        destroy_site(plane.services)
    with pytest.raises(ConflictError, match=running):
        retry_site(plane.services)
    with pytest.raises(ConflictError, match="already exists"):
        create_site(plane.services)
    assert len(plane.operations()) == 1

    gate.open()
    assert plane.wait(sub.operation_id) == "SUCCEEDED"
    assert plane.run(destroy_site(plane.services)) == "SUCCEEDED"


def test_the_unique_slot_refuses_a_second_operation_that_slipped_past_the_check(
    plane: Plane,
):
    """Providers are fakes. Two requests that both passed the busy check: the unique index
    on the target's slot lets only the first commit; the second is a ConflictError."""
    sub = create_site(plane.services).submitted
    site = plane.site("shop")
    with (
        pytest.raises(ConflictError, match="collides with existing state"),
        plane.store.unit_of_work() as uow,
    ):
        new_operation(
            uow,
            kind="destroy",
            target_kind="site",
            target_name=site.name,
            target_id=site.id,
            actor="racer",
        )
    assert [op.id for op in plane.operations()] == [sub.operation_id]


def test_an_idempotency_key_answers_the_first_operation_again(plane: Plane):
    """Providers are fakes. The same request with the same key returns the first operation
    (not new: nothing is submitted again); the same key with another request is refused."""
    first = create_site(plane.services, key="k-1")
    assert plane.run(first.submitted) == "SUCCEEDED"
    calls = len(plane.world.journal.calls)

    again = create_site(plane.services, key="k-1")
    assert again.submitted.operation_id == first.submitted.operation_id
    assert again.submitted.new is False and again.admin_password is None
    plane.submit(again.submitted)  # the API submits only what is new
    assert len(plane.world.journal.calls) == calls
    assert len(plane.operations()) == 1
    with pytest.raises(ConflictError, match="already used for a different request"):
        create_site(plane.services, type="static", key="k-1")

    destroy = destroy_site(plane.services, key="k-2")
    assert destroy_site(plane.services, key="k-2").operation_id == destroy.operation_id
    assert plane.run(destroy) == "SUCCEEDED"
    assert destroy_site(plane.services, key="k-2").operation_id == destroy.operation_id
    assert len(plane.operations()) == 2


def test_an_operation_recorded_but_never_submitted_is_found_and_run(plane: Plane):
    """Providers are fakes. A crash between the request's commit and its submission leaves
    an operation with no workflow: resubmit_lost (run at every worker's start) finds it and
    runs it, once; an operation whose workflow exists is left alone."""
    done = create_site(plane.services, "done").submitted
    assert plane.run(done) == "SUCCEEDED"
    lost = create_site(plane.services, "lost").submitted  # committed, never submitted
    assert plane.workflow_status(lost.operation_id) is None
    assert plane.operation(lost.operation_id).status == "PENDING"

    assert plane.engine.resubmit_lost() == 1
    assert plane.wait(lost.operation_id) == "SUCCEEDED"
    assert plane.site("lost").status == "ACTIVE"
    assert plane.engine.resubmit_lost() == 0
    assert plane.world.journal.count("runtime.ensure_files", "lost") == 1


def test_a_lost_operation_is_run_by_the_next_worker_to_start(plane: Plane):
    """Providers are fakes. The operation is recorded, the worker dies before submitting
    it; the next worker (the same executor id) launches and resubmits it as `serve` does."""
    lost = create_site(plane.services).submitted
    plane.restart()
    assert plane.workflow_status(lost.operation_id) is None  # nothing for DBOS to recover
    assert plane.engine.resubmit_lost() == 1
    assert plane.wait(lost.operation_id) == "SUCCEEDED"
    assert plane.site("shop").status == "ACTIVE"
