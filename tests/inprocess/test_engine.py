"""The engine beyond its free slots: an operation it cannot start at once goes through the
queue, which every worker polls, and still runs.

Providers are fakes: this tier tests kernel.engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from dbos import DBOS
from dbos import _workflow_commands as dbos_background

from hostplane.kernel.engine import (
    BACKGROUND_JOBS_INTERVAL,
    POLL_SERVING_API,
    POLL_WORKER,
    QUEUE,
    WorkflowEngine,
)
from hostplane.settings import Settings
from tests.inprocess.helpers import create_site
from tests.inprocess.plane import Failpoints, Plane


@pytest.fixture
def settings(base_settings: Settings, data_dir: Path) -> Settings:
    """One slot for workflows started at once."""
    return base_settings.model_copy(update={"data_dir": data_dir, "worker_concurrency": 1})


def test_an_operation_beyond_the_free_slots_runs_through_the_queue(
    plane: Plane, points: Failpoints
):
    """Providers are fakes. The only slot is held by a provision paused at its files step;
    a second provision is enqueued instead, dequeued by the worker's queue poll, and ends
    while the first is still paused; then the first ends too."""
    gate = points.hold_at("files.apply.before")
    first = create_site(plane.services, "first").submitted
    plane.submit(first)
    gate.wait_reached()

    second = create_site(plane.services, "second").submitted
    plane.submit(second)
    assert plane.wait(second.operation_id) == "SUCCEEDED"
    assert plane.workflow_status(first.operation_id) == "PENDING"
    assert DBOS.get_workflow_status(second.operation_id).queue_name == QUEUE
    assert DBOS.get_workflow_status(first.operation_id).queue_name is None  # started at once
    gate.open()
    assert plane.wait(first.operation_id) == "SUCCEEDED"
    assert {plane.site(n).status for n in ("first", "second")} == {"ACTIVE"}


@pytest.mark.parametrize(
    ("given", "serves_api", "polls"),
    [(None, False, POLL_WORKER), (None, True, POLL_SERVING_API), (0.05, True, 0.05)],
)
def test_the_queue_poll_is_the_workers_unless_the_process_serves_the_api_or_it_is_set(
    plane: Plane, given: float | None, serves_api: bool, polls: float
):
    settings = plane.settings.model_copy(update={"queue_poll_interval": given})
    engine = WorkflowEngine(settings, plane.store, plane.registry, serves_api=serves_api)
    assert engine.poll_interval == polls


def test_a_launched_engine_runs_dbos_background_jobs_at_its_own_slow_interval(plane: Plane):
    assert dbos_background._BACKGROUND_JOBS_INTERVAL_SEC == BACKGROUND_JOBS_INTERVAL > 1.0
