"""Every workflow an operation kind runs, and the scheduled ones."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dbos import DBOS, SetWorkflowID

from hostplane.workflows import domain_requests
from hostplane.workflows.domains import (
    add_domain,
    remove_domain,
    renew_certificate,
    upload_certificate,
)
from hostplane.workflows.services import current
from hostplane.workflows.sites import destroy_site, provision_site

WORKFLOWS = {
    "provision": provision_site,
    "retry": provision_site,
    "destroy": destroy_site,
    domain_requests.ADD: add_domain,
    domain_requests.REMOVE: remove_domain,
    domain_requests.RENEW: renew_certificate,
    domain_requests.UPLOAD: upload_certificate,
}

RENEWAL_SCHEDULE = "certificate-renewal"


@DBOS.step()
def record_due_renewals_step() -> list[str]:
    return domain_requests.record_due_renewals(current(), actor="scheduler")


@DBOS.workflow()
def renew_due_certificates(scheduled_time: datetime, context: Any) -> None:
    """Start a renewal for every certificate inside its renewal window (one run per tick
    across all workers: the schedule lives in the workflow database)."""
    started = record_due_renewals_step()
    for operation_id in started:
        with SetWorkflowID(operation_id):
            DBOS.start_workflow(renew_certificate, operation_id)
