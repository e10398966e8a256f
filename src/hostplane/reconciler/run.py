"""A reconcile as a durable workflow: one at a time across every worker (its operation holds
the single `reconciler` slot), on a schedule and on demand, its findings and repairs stored."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from dbos import DBOS, SetWorkflowID
from prometheus_client import Counter, Gauge, Histogram

from hostplane.errors import ConflictError
from hostplane.kernel import runtime
from hostplane.kernel.drift import (
    PRUNE,
    REPAIR,
    REPORT,
    Finding,
    FindingKind,
    Observer,
    counts,
)
from hostplane.kernel.lifecycle import OperationStatus
from hostplane.kernel.operations import new_operation
from hostplane.kernel.steps import describe
from hostplane.kernel.store.tables import ReconcileRunRow
from hostplane.kernel.store.types import utcnow
from hostplane.reconciler.observe import plan

log = structlog.get_logger(__name__)

KIND = "reconcile"
ACTOR = "reconciler"
SLOT = "reconciler"
SCHEDULE = "reconcile"

FINDINGS = Gauge("hostplane_reconcile_findings", "Findings of the last reconcile", ["kind"])
REPAIRS = Counter("hostplane_reconcile_repairs_total", "Repairs and prunes done", ["action"])
DURATION = Histogram(
    "hostplane_reconcile_duration_seconds",
    "Duration of a reconcile",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


def record_request(ctx: Any, *, dry_run: bool, prune: bool, trigger: str, actor: str) -> str:
    """The reconcile operation; ConflictError while another reconcile runs."""
    with ctx.store.unit_of_work() as uow:
        running = uow.operations.active_for(SLOT)
        if running is not None:
            raise ConflictError(f"reconcile {running.id} is already running: wait for it")
        op = new_operation(
            uow,
            kind=KIND,
            target_kind="system",
            target_name=SLOT,
            target_id=SLOT,
            actor=actor,
            options={"dry_run": dry_run, "prune": prune, "trigger": trigger},
        )
        op.active_target = SLOT  # one slot for every reconcile, as it always was
        uow.flush()
        return op.id


@dataclass(frozen=True, slots=True)
class Planned:
    findings: tuple[Finding, ...]
    dry_run: bool
    prune: bool


@dataclass(frozen=True, slots=True)
class Done:
    resource: str
    result: str


def _begin(ctx: Any, operation_id: str) -> tuple[dict[str, Any], datetime]:
    """The run's options, and when it started (before it observed anything)."""
    with ctx.store.unit_of_work() as uow:
        op = uow.operations.get(operation_id)
        assert op is not None
        if op.status == OperationStatus.PENDING:
            op.status, op.started_at = OperationStatus.RUNNING, utcnow()
        return dict(op.options or {}), op.started_at or utcnow()


@DBOS.step()
def reconcile_plan_step(operation_id: str) -> Planned:
    services = runtime.context()
    started = time.monotonic()
    options, began = _begin(services, operation_id)
    found = plan(services)
    tally = counts(found.findings)
    for kind in FindingKind:
        FINDINGS.labels(kind.value).set(tally[kind.value])
    with services.store.unit_of_work() as uow:
        run = uow.reconcile_runs.get(operation_id)
        if run is None:
            run = uow.reconcile_runs.add(
                ReconcileRunRow(
                    id=operation_id,
                    trigger=str(options.get("trigger", "request")),
                    dry_run=bool(options.get("dry_run")),
                    prune=bool(options.get("prune")) or services.settings.reconcile_prune,
                    started_at=began,  # its duration includes observing, most of a run
                )
            )
        run.counts = {**tally, "provider_calls": sum(found.calls.values())}
        run.findings = [f.as_dict() for f in found.findings]
        run.errors = [f"{p}: {why}" for p, why in found.unreachable.items()]
        planned = Planned(tuple(found.findings), run.dry_run, run.prune)
    log.info(
        "reconcile.planned",
        elapsed_ms=round((time.monotonic() - started) * 1000, 1),
        calls=found.calls,
        **tally,
    )
    return planned


@DBOS.step()
def reconcile_action_step(handler: str, action: str, targets: list[str]) -> str:
    return _observer(handler).act(runtime.context(), action, targets)


@DBOS.step()
def reconcile_repair_step(operation_id: str, handler: str, target: str, steps: list[str]) -> str:
    return _observer(handler).repair(runtime.context(), operation_id, target, steps)


@DBOS.step()
def reconcile_prune_step(operation_id: str, finding: Finding) -> str:
    services = runtime.context()
    outcome = _observer(finding.handler).prune(services, finding)
    if not outcome.startswith("skipped"):
        with services.store.unit_of_work() as uow:
            uow.audit.record(
                actor=ACTOR,
                action="reconcile.prune",
                target_kind="resource",
                target_name=finding.resource,
                decision="allowed",
                reason=finding.detail,
                operation_id=operation_id,
                snapshot=finding.as_dict(),
            )
    return outcome


def _observer(handler: str) -> Observer:
    observer = runtime.registry().kind(handler).observer
    assert observer is not None, f"kind {handler} observes nothing"
    return observer


@DBOS.step()
def reconcile_finish_step(operation_id: str, done: list[Done], errors: list[str]) -> str:
    services = runtime.context()
    with services.store.unit_of_work() as uow:
        op = uow.operations.get(operation_id)
        run = uow.reconcile_runs.get(operation_id)
        assert op is not None and run is not None
        if op.finished_at is not None:
            return str(op.status)
        run.finished_at = utcnow()
        run.duration_ms = round((run.finished_at - run.started_at).total_seconds() * 1000, 1)
        run.repairs = sum(1 for d in done if _did(d.result))
        by_resource = {d.resource: d.result for d in done}
        run.findings = [f | {"result": by_resource.get(f["resource"])} for f in run.findings]
        run.errors = [*run.errors, *errors]
        status = OperationStatus.SUCCEEDED if not errors else OperationStatus.FAILED
        uow.operations.finish(op, status, "; ".join(errors) or None)
        uow.flush()
        uow.reconcile_runs.keep_newest(services.settings.reconcile_keep_runs)
        DURATION.observe(run.duration_ms / 1000)
        log.info("reconcile.finished", run=operation_id, repairs=run.repairs, errors=len(errors))
        return str(status)


@DBOS.workflow()
def reconcile(operation_id: str) -> str:
    planned = reconcile_plan_step(operation_id)
    done: list[Done] = []
    errors: list[str] = []
    if not planned.dry_run:
        done += _act(planned.findings, errors)
        done += _repair(operation_id, planned.findings, errors)
        if planned.prune:
            done += _prune(operation_id, planned.findings, errors)
    return reconcile_finish_step(operation_id, done, errors)


def _act(findings: tuple[Finding, ...], errors: list[str]) -> list[Done]:
    """Each kind's own actions, each once for all its findings (a generated config regenerated
    whole, whatever the number of findings)."""
    done: list[Done] = []
    actions = sorted({(f.handler, f.action) for f in findings if f.action not in _GENERIC})
    for handler, action in actions:
        hits = [f for f in findings if (f.handler, f.action) == (handler, action)]
        targets = sorted({f.target for f in hits if f.target})
        result = _guarded(
            errors, lambda h=handler, a=action, t=targets: reconcile_action_step(h, a, t)
        )
        done += [Done(f.resource, result) for f in hits]
    return done


_GENERIC = frozenset({REPAIR, PRUNE, REPORT})


def _repair(operation_id: str, findings: tuple[Finding, ...], errors: list[str]) -> list[Done]:
    """One repair per target, re-running the steps of all its findings at once."""
    done: list[Done] = []
    by_target: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        if f.action == REPAIR and f.target:
            by_target.setdefault((f.handler, f.target), []).append(f)
    for (handler, target), hits in sorted(by_target.items()):
        steps = sorted({str(f.step) for f in hits})
        result = _guarded(
            errors,
            lambda h=handler, t=target, st=steps: reconcile_repair_step(operation_id, h, t, st),
        )
        if _did(result):
            REPAIRS.labels("repair").inc()
        done += [Done(f.resource, result) for f in hits]
    return done


def _prune(operation_id: str, findings: tuple[Finding, ...], errors: list[str]) -> list[Done]:
    done: list[Done] = []
    for f in findings:
        if f.action == PRUNE:
            result = _guarded(errors, lambda f=f: reconcile_prune_step(operation_id, f))
            if _did(result):
                REPAIRS.labels("prune").inc()
            done.append(Done(f.resource, result))
    return done


def _did(result: str) -> bool:
    """Whether a repair or prune result means something was done."""
    return not result.startswith(("skipped", "failed"))


def _guarded(errors: list[str], call: Any) -> str:
    try:
        return str(call())
    except Exception as exc:
        errors.append(describe(exc))
        return f"failed: {describe(exc)}"


@DBOS.step()
def record_scheduled_step() -> str | None:
    services = runtime.context()
    try:
        return record_request(
            services,
            dry_run=False,
            prune=services.settings.reconcile_prune,
            trigger="schedule",
            actor="scheduler",
        )
    except ConflictError:
        return None  # one is running: this tick is skipped


@DBOS.workflow()
def reconcile_on_schedule(scheduled_time: datetime, context: Any) -> None:
    operation_id = record_scheduled_step()
    if operation_id is not None:
        with SetWorkflowID(operation_id):
            DBOS.start_workflow(reconcile, operation_id)


def schedule_cron(interval: int) -> str:
    """A cron (seconds first) firing every `interval` seconds."""
    if interval < 60:
        return f"*/{interval} * * * * *"
    return f"0 */{interval // 60} * * * *"
