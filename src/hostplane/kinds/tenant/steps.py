"""What each step of the tenant's sagas does, and how it is undone.

A step re-reads the tenant from the database and calls one provider (its account, the SFTP
server) or its children's contributions; every action is idempotent. The SFTP server's files
are regenerated whole from the database, so its undo is the same regeneration once the
tenant's status (or desired suspension) has changed.
"""

from __future__ import annotations

from hostplane.errors import PermanentError
from hostplane.kernel import runtime
from hostplane.kernel.outcome import Outcome
from hostplane.kernel.steps import Options, StepDef
from hostplane.kernel.transition import transition
from hostplane.kinds.tenant.model import (
    KEEP_RUNNING,
    LIFECYCLE,
    SUSPENSION,
    TEARDOWN,
    Step,
    TenantStatus,
    system_user,
)
from hostplane.kinds.tenant.repo import keys, tenants
from hostplane.kinds.tenant.table import TenantRow
from hostplane.providers.local.accounts import Account, TenantAccounts
from hostplane.providers.openssh.config import SftpState, SftpUser
from hostplane.services import Services

ACTOR = "worker"
# Tenants that may log in over SFTP, unless they are to be suspended (`suspension` decides:
# an unsuspension lets the tenant in before its status says ACTIVE again).
SFTP_STATUSES = frozenset({TenantStatus.PROVISIONING, TenantStatus.ACTIVE, TenantStatus.SUSPENDED})


def account_of(tenant: TenantRow) -> Account:
    return Account(tenant.name, system_user(tenant.name), tenant.made_for)


def accounts(services: Services) -> TenantAccounts:
    if services.accounts is None:
        raise PermanentError("this control plane has no tenant accounts provider configured")
    return services.accounts


def _account(services: Services, tenant: TenantRow, options: Options) -> Outcome:
    return accounts(services).ensure(account_of(tenant))


def _remove_account(services: Services, tenant: TenantRow, options: Options) -> Outcome:
    return accounts(services).remove(account_of(tenant))


def made_for_site_ready(services: Services, tenant_id: str, site: str) -> None:
    """A tenant made for a site becomes ACTIVE once that site's files step has made its
    account (tenant_for_site made it PROVISIONING). Idempotent: a replay finds it ACTIVE."""
    with services.store.unit_of_work() as uow:
        tenant = tenants(uow).get(tenant_id)
        if tenant is None or tenant.made_for != site:
            return
        if tenant.status == TenantStatus.PROVISIONING:
            reason = f"its account made by site {site}'s files step"
            transition(uow, LIFECYCLE, tenant, TenantStatus.ACTIVE, reason=reason, actor=ACTOR)


def desired_sftp(services: Services) -> SftpState:
    """Who may log in, chrooted where, with which keys: from the database alone."""
    provider = accounts(services)
    with services.store.unit_of_work() as uow:
        allowed = [
            t for t in tenants(uow).live() if t.status in SFTP_STATUSES and t.suspension is None
        ]
        by_tenant = keys(uow).of_tenants([t.id for t in allowed])
        users = [
            SftpUser(
                user=system_user(t.name),
                chroot=provider.home(t.name),
                keys=tuple(f"{k.algorithm} {k.key} {k.comment}".strip() for k in by_tenant[t.id]),
            )
            for t in allowed
            if provider.exists(account_of(t))
        ]
    return SftpState(tuple(users))


def apply_sftp(services: Services) -> Outcome:
    if services.sftp is None:
        return Outcome.UNCHANGED
    with services.sftp.locked():  # the state read under the lock: never an older one written
        return services.sftp.apply(desired_sftp(services))


def _sftp(services: Services, tenant: TenantRow, options: Options) -> Outcome:
    return apply_sftp(services)


def _suspension(services: Services, tenant: TenantRow, options: Options) -> Outcome:
    """Every child follows the tenant's desired suspension; a suspended tenant's processes
    (PHP workers, SFTP sessions) are ended, but those a child keeps running (KEEP_RUNNING)."""
    changed = False
    for follow in runtime.registry().contributions(SUSPENSION):
        changed |= Outcome(follow(services, tenant)).changed
    if tenant.suspension is not None:
        kept = [keep(services, tenant) for keep in runtime.registry().contributions(KEEP_RUNNING)]
        ended = accounts(services).end_processes(
            account_of(tenant), spare=lambda pid: any(k(pid) for k in kept)
        )
        changed |= ended > 0
    return Outcome.UPDATED if changed else Outcome.UNCHANGED


def _remove_children(services: Services, tenant: TenantRow, options: Options) -> Outcome:
    """Every child kind removes what the tenant has of it, through its own steps (cascade)."""
    removed = False
    for teardown in runtime.registry().contributions(TEARDOWN):
        removed |= bool(teardown(services, tenant, ACTOR))
    return Outcome.DELETED if removed else Outcome.ABSENT


STEPS: tuple[StepDef[TenantRow], ...] = (
    StepDef(Step.CHILDREN, None, _remove_children, "what the tenant owns removed"),
    StepDef(Step.ACCOUNT, _account, _remove_account, "the tenant's system user and home"),
    StepDef(Step.SFTP, _sftp, _sftp, "the SFTP server letting the tenant in, or not"),
    StepDef(Step.SUSPENSION, _suspension, _suspension, "the tenant's sites as it is to be"),
)
BY_NAME = {step.name: step for step in STEPS}
