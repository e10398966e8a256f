"""The site workflows: one skeleton for every site type and runtime.

Workflows orchestrate and do no I/O of their own; every read and write is a
checkpointed step, so a resumed workflow replays to where it stopped. A failed
provision undoes its steps in reverse, durably (a crash mid-compensation resumes it).
"""

from __future__ import annotations

from dbos import DBOS

from hostplane import failpoints
from hostplane.domain.sites import Step, undoable
from hostplane.workflows import lifecycle_steps
from hostplane.workflows.recording import describe, run_step
from hostplane.workflows.services import current


@DBOS.step()
def begin_step(operation_id: str) -> list[str]:
    return lifecycle_steps.begin(current(), operation_id)


@DBOS.step()
def apply_step(operation_id: str, step: str) -> str:
    return run_step(current(), operation_id, Step(step), "apply").value


@DBOS.step()
def undo_step(operation_id: str, step: str) -> str:
    return run_step(current(), operation_id, Step(step), "undo").value


@DBOS.step()
def compensating_step(operation_id: str, error: str) -> None:
    lifecycle_steps.mark_compensating(current(), operation_id, error)


@DBOS.step()
def finish_step(operation_id: str, error: str | None) -> str:
    return lifecycle_steps.finish(current(), operation_id, error)


@DBOS.workflow()
def provision_site(operation_id: str) -> str:
    plan = begin_step(operation_id)
    started: list[str] = []
    try:
        for step in plan:
            started.append(step)  # the failing step is undone too: undo is idempotent
            apply_step(operation_id, step)
            failpoints.hit(f"{step}.apply.checkpointed")
    except Exception as exc:
        return _compensate(operation_id, started, describe(exc))
    return finish_step(operation_id, None)


def _compensate(operation_id: str, started: list[str], error: str) -> str:
    compensating_step(operation_id, error)
    failures = []
    for step in reversed(started):
        if not undoable(Step(step)):
            continue
        try:
            undo_step(operation_id, step)
        except Exception as exc:
            failures.append(f"undo of {step} failed: {describe(exc)}")
    message = "; ".join([error, *failures])
    return finish_step(operation_id, message)


@DBOS.workflow()
def destroy_site(operation_id: str) -> str:
    plan = begin_step(operation_id)
    try:
        for step in plan:
            undo_step(operation_id, step)
            failpoints.hit(f"{step}.undo.checkpointed")
    except Exception as exc:
        return finish_step(operation_id, f"destroy stopped at a step: {describe(exc)}")
    return finish_step(operation_id, None)


WORKFLOWS = {"provision": provision_site, "retry": provision_site, "destroy": destroy_site}
