"""At a worker's start: every hosted tenant's account (a reboot, an upgrade that made tenants
for existing sites), then the SFTP server's files; and the SFTP server to supervise."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from hostplane.errors import HostplaneError
from hostplane.kernel import runtime
from hostplane.kernel.kind import Daemon
from hostplane.kinds.tenant.model import BEFORE_RESTORE
from hostplane.kinds.tenant.repo import tenants
from hostplane.kinds.tenant.steps import account_of, apply_sftp
from hostplane.services import Services

log = structlog.get_logger(__name__)


def on_start(services: Services) -> None:
    if services.accounts is None:
        return
    for before in runtime.registry().contributions(BEFORE_RESTORE):
        try:
            before(services)
        except Exception as exc:  # the accounts are restored anyway; the reconciler retries
            log.error("tenant.before_restore_failed", error=str(exc))
    with services.store.unit_of_work() as uow:
        hosted = list(tenants(uow).hosted())
    for tenant in hosted:
        try:
            if services.accounts.ensure(account_of(tenant)).changed:
                log.info("tenant.account_restored", tenant=tenant.name)
        except HostplaneError as exc:
            log.error("tenant.restore_failed", tenant=tenant.name, error=str(exc))
    try:
        apply_sftp(services)
    except Exception as exc:  # the worker serves on; the reconciler tries again
        log.error("sftp.regenerate_failed", error=str(exc))


def daemons(services: Services) -> Sequence[Daemon]:
    return [services.sftp] if services.sftp is not None else []
