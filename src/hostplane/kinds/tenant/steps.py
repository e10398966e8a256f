"""What each step of the tenant's sagas does, and how it is undone.

A step re-reads the tenant from the database and calls one provider (its account, the SFTP
server) or its children's contributions; every action is idempotent. The SFTP step writes
the tenant's own keys file from the database (or removes it), so its undo is the same step
once the tenant's status (or desired suspension) has changed; no other tenant's file is
touched. The whole set is regenerated at start-up and by the reconciler.
"""

from __future__ import annotations

import structlog

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
from hostplane.kinds.tenant.table import SshKeyRow, TenantRow
from hostplane.providers.local.accounts import Account, TenantAccounts
from hostplane.providers.openssh.config import SftpState, SftpUser
from hostplane.services import Services

log = structlog.get_logger(__name__)

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


def _sftp_user(
    provider: TenantAccounts, tenant: TenantRow, rows: list[SshKeyRow]
) -> SftpUser | None:
    """The tenant's SFTP access, if it is let in: not (to be) suspended, its account made with
    its home as its passwd home (its chroot; a user whose home is elsewhere is kept out)."""
    if tenant.status not in SFTP_STATUSES or tenant.suspension is not None:
        return None
    account = account_of(tenant)
    gid = provider.sftp_group(account)
    if gid is None:
        if provider.exists(account):
            log.error("sftp.home_not_chroot", tenant=tenant.name, user=account.user)
        return None
    keys = tuple(f"{k.algorithm} {k.key} {k.comment}".strip() for k in rows)
    return SftpUser(user=account.user, gid=gid, keys=keys)


def desired_sftp(services: Services) -> SftpState:
    """Who may log in, with which keys: every tenant's, from the database alone."""
    provider = accounts(services)
    with services.store.unit_of_work() as uow:
        allowed = [
            t for t in tenants(uow).live() if t.status in SFTP_STATUSES and t.suspension is None
        ]
        by_tenant = keys(uow).of_tenants([t.id for t in allowed])
        users = (_sftp_user(provider, t, by_tenant[t.id]) for t in allowed)
        return SftpState(tuple(u for u in users if u is not None))


def apply_sftp(services: Services) -> Outcome:
    """The SFTP server's files of every tenant (start-up, reconcile): O(tenants)."""
    if services.sftp is None:
        return Outcome.UNCHANGED
    with services.sftp.locked():  # the state read under the lock: never an older one written
        return services.sftp.apply(desired_sftp(services))


def apply_tenant_sftp(services: Services, tenant_id: str, name: str) -> Outcome:
    """One tenant's SFTP access as the database says now (let in with its keys, or not); no
    other tenant's file is read or written."""
    if services.sftp is None:
        return Outcome.UNCHANGED
    provider = accounts(services)
    with services.sftp.locked(), services.store.unit_of_work() as uow:
        row = tenants(uow).get(tenant_id)
        rows = keys(uow).of_tenants([tenant_id])[tenant_id] if row is not None else []
        user = _sftp_user(provider, row, rows) if row is not None else None
        return services.sftp.apply_user(system_user(name), user)


def _sftp(services: Services, tenant: TenantRow, options: Options) -> Outcome:
    return apply_tenant_sftp(services, tenant.id, tenant.name)


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
