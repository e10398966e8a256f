"""What custom domains add to the edge's desired state: their hosts on their site's route."""

from __future__ import annotations

from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kinds.domain.repo import served_domains
from hostplane.kinds.site.edge import EdgeDraft
from hostplane.services import Services


def contribute(uow: UnitOfWork, services: Services, draft: EdgeDraft) -> None:
    for site_id, served in served_domains(uow, draft.site_id).items():
        if served:
            draft.add_hosts(site_id, [d.name for d in served])
