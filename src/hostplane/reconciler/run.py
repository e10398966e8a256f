"""A reconcile as a durable workflow: one at a time across every worker (its operation holds
the single `reconciler` slot), on a schedule and on demand, its findings and repairs stored."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import structlog
from dbos import DBOS, SetWorkflowID
from prometheus_client import Counter, Gauge, Histogram

from hostplane.domain.errors import ConflictError
from hostplane.domain.lifecycle import OperationStatus
from hostplane.domain.reconcile import Action, FindingKind, counts
from hostplane.reconciler import repair
from hostplane.reconciler.observe import plan
from hostplane.store.tables import OperationRow, ReconcileRunRow
from hostplane.store.types import utcnow
from hostplane.workflows.recording import describe
from hostplane.workflows.services import Services, current

log = structlog.get_logger(__name__)

KIND = "reconcile"
SLOT = "reconciler"
SCHEDULE = "reconcile"

FINDINGS = Gauge("hostplane_reconcile_findings", "Findings of the last reconcile", ["kind"])
REPAIRS = Counter("hostplane_reconcile_repairs_total", "Repairs and prunes done", ["action"])
DURATION = Histogram(
    "hostplane_reconcile_duration_seconds",
    "Duration of a reconcile",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


def record_request(
    services: Services, *, dry_run: bool, prune: bool, trigger: str, actor: str
) -> str:
    """The reconcile operation; ConflictError while another reconcile runs."""
    with services.store.unit_of_work() as uow:
        running = uow.operations.active_for(SLOT)
        if running is not None:
            raise ConflictError(f"reconcile {running.id} is already running: wait for it")
        op = uow.operations.add(
            OperationRow(
                kind=KIND,
                target_kind="system",
                target_name=SLOT,
                target_id=SLOT,
                status=OperationStatus.PENDING,
                active_target=SLOT,
                request_hash="",
                options={"dry_run": dry_run, "prune": prune, "trigger": trigger},
                actor=actor,
            )
        )
        uow.flush()
        return op.id


@DBOS.step()
def reconcile_plan_step(operation_id: str) -> dict[str, Any]:
    services = current()
    started = time.monotonic()
    with services.store.unit_of_work() as uow:
        op = uow.operations.get(operation_id)
        assert op is not None
        options = dict(op.options or {})
        if op.status == OperationStatus.PENDING:
            op.status, op.started_at = OperationStatus.RUNNING, utcnow()
    found = plan(services)
    findings = [f.as_dict() | {"step": f.step.value if f.step else None} for f in found.findings]
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
                )
            )
        run.counts = {**tally, "provider_calls": sum(found.calls.values())}
        run.findings = [{k: v for k, v in f.items() if k != "step"} for f in findings]
        run.errors = [f"{p}: {why}" for p, why in found.unreachable.items()]
        dry_run, prune = run.dry_run, run.prune
    log.info(
        "reconcile.planned",
        elapsed_ms=round((time.monotonic() - started) * 1000, 1),
        calls=found.calls,
        **tally,
    )
    return {"findings": findings, "dry_run": dry_run, "prune": prune}


@DBOS.step()
def reconcile_config_step(action: str) -> str:
    services = current()
    if action == Action.REGENERATE_TUNNEL:
        return repair.regenerate_tunnel_config(services).value
    return repair.regenerate_edge_config(services).value


@DBOS.step()
def reconcile_site_step(operation_id: str, site: str, steps: list[str]) -> str:
    return repair.repair_site(current(), operation_id, site, steps)


@DBOS.step()
def reconcile_prune_step(operation_id: str, finding: dict[str, Any]) -> str:
    services = current()
    outcome = repair.prune(services, str(finding["resource"]), finding.get("site"))
    if not outcome.startswith("skipped"):
        with services.store.unit_of_work() as uow:
            uow.audit.record(
                actor=repair.ACTOR,
                action="reconcile.prune",
                target_kind="resource",
                target_name=str(finding["resource"]),
                decision="allowed",
                reason=str(finding["detail"]),
                operation_id=operation_id,
                snapshot=dict(finding),
            )
    return outcome


@DBOS.step()
def reconcile_finish_step(operation_id: str, done: list[dict[str, Any]], errors: list[str]) -> str:
    services = current()
    with services.store.unit_of_work() as uow:
        op = uow.operations.get(operation_id)
        run = uow.reconcile_runs.get(operation_id)
        assert op is not None and run is not None
        if op.finished_at is not None:
            return str(op.status)
        run.finished_at = utcnow()
        run.duration_ms = round((run.finished_at - run.started_at).total_seconds() * 1000, 1)
        run.repairs = sum(1 for d in done if _did(str(d["result"])))
        by_resource = {d["resource"]: d["result"] for d in done}
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
    findings: list[dict[str, Any]] = planned["findings"]
    done: list[dict[str, Any]] = []
    errors: list[str] = []
    if not planned["dry_run"]:
        for action in (Action.REGENERATE_EDGE, Action.REGENERATE_TUNNEL):
            hits = [f for f in findings if f["action"] == action]
            if hits:
                result = _guarded(errors, lambda a=action: reconcile_config_step(a))
                done += [{"resource": f["resource"], "result": result} for f in hits]
        by_site: dict[str, list[dict[str, Any]]] = {}
        for f in findings:
            if f["action"] == Action.REPAIR and f["site"]:
                by_site.setdefault(f["site"], []).append(f)
        for site, hits in sorted(by_site.items()):
            steps = sorted({str(f["step"]) for f in hits})
            result = _guarded(
                errors, lambda s=site, st=steps: reconcile_site_step(operation_id, s, st)
            )
            if _did(result):
                REPAIRS.labels("repair").inc()
            done += [{"resource": f["resource"], "result": result} for f in hits]
        if planned["prune"]:
            for f in findings:
                if f["action"] == Action.PRUNE:
                    result = _guarded(errors, lambda f=f: reconcile_prune_step(operation_id, f))
                    if _did(result):
                        REPAIRS.labels("prune").inc()
                    done.append({"resource": f["resource"], "result": result})
    return reconcile_finish_step(operation_id, done, errors)


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
    services = current()
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
