"""The certificate's sagas: install an upload, renew one, and the scheduled renewal round."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dbos import DBOS, SetWorkflowID

from hostplane.kernel import runtime, saga
from hostplane.kernel.kind import Schedule
from hostplane.kinds.certificate.requests import record_due_renewals
from hostplane.settings import Settings

RENEWAL_SCHEDULE = "certificate-renewal"


@DBOS.workflow()
def upload_certificate(operation_id: str) -> str:
    return saga.run(operation_id)


@DBOS.workflow()
def renew_certificate(operation_id: str) -> str:
    return saga.run(operation_id)


@DBOS.step()
def record_due_renewals_step() -> list[str]:
    return record_due_renewals(runtime.context(), actor="scheduler")


@DBOS.workflow()
def renew_due_certificates(scheduled_time: datetime, context: Any) -> None:
    """Start a renewal for every certificate inside its renewal window (one run per tick
    across all workers: the schedule lives in the workflow database)."""
    started = record_due_renewals_step()
    for operation_id in started:
        with SetWorkflowID(operation_id):
            DBOS.start_workflow(renew_certificate, operation_id)


def schedules(settings: Settings) -> list[Schedule]:
    if not settings.acme_directory:
        return []
    return [Schedule(RENEWAL_SCHEDULE, renew_due_certificates, settings.cert_renew_schedule)]
