"""What the reconciler observes of tenants: their system users and homes (one read of the
user database, one directory scan), the SFTP server's files, and each home's disk use (one
walk per tenant per reconcile), against the database; and what it does about each finding."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

import structlog

from hostplane.errors import ConflictError
from hostplane.kernel.drift import (
    PRUNE,
    REPAIR,
    REPORT,
    Finding,
    FindingKind,
    Observation,
    ProviderCalls,
    ask,
)
from hostplane.kernel.operations import take_repair_slot
from hostplane.kernel.steps import StepDef, record_apply, run_repair
from hostplane.kernel.store.types import utcnow
from hostplane.kinds.tenant.api import over
from hostplane.kinds.tenant.model import HOSTED, KIND, Step, TenantOp, system_user
from hostplane.kinds.tenant.repo import tenants
from hostplane.kinds.tenant.steps import BY_NAME, accounts, apply_sftp, desired_sftp
from hostplane.kinds.tenant.table import TenantRow
from hostplane.providers.local import users
from hostplane.providers.local.accounts import Account
from hostplane.services import Services

log = structlog.get_logger(__name__)

ACTOR = "reconciler"
REGENERATE_SFTP = "regenerate-sftp"
MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Hosted:
    name: str
    user: str
    made_for: str | None
    busy: bool


def _desired(services: Services) -> tuple[list[Hosted], set[str], set[str]]:
    """Hosted tenants, every live tenant's name, and the sites tenants were made for."""
    with services.store.unit_of_work() as uow:
        busy = {op.target_name for op in uow.operations.unfinished() if op.target_kind == KIND}
        live = list(tenants(uow).live())
        hosted = [
            Hosted(t.name, system_user(t.name), t.made_for, t.name in busy)
            for t in live
            if t.status in HOSTED
        ]
        return hosted, {t.name for t in live}, {t.made_for for t in live if t.made_for}


def diff(
    hosted: list[Hosted],
    live: set[str],
    made_for: set[str],
    homes: frozenset[str],
    marked: dict[str, str],
) -> list[Finding]:
    """Missing users and homes of hosted tenants; this plane's users and homes of no live
    tenant (orphans). Pure."""
    found: list[Finding] = []
    for t in (t for t in hosted if not t.busy):
        if t.user not in marked:
            detail = f"the tenant's system user {t.user} is gone"
            found.append(
                Finding(
                    FindingKind.MISSING,
                    f"system-user:{t.user}",
                    t.name,
                    detail,
                    REPAIR,
                    Step.ACCOUNT,
                )
            )
        if t.name not in homes:
            detail = "the tenant's home is gone"
            found.append(
                Finding(FindingKind.MISSING, f"home:{t.name}", t.name, detail, REPAIR, Step.ACCOUNT)
            )
    for user, mark in sorted(marked.items()):
        what, _, name = mark.partition(":")
        ours = name in live if what == "tenant" else (name in made_for or name in live)
        if not ours:
            found.append(
                Finding(
                    FindingKind.ORPHANED,
                    f"system-user:{user}",
                    name,
                    "this plane's mark, no live tenant",
                    PRUNE,
                )
            )
    for home in sorted(homes - live):
        found.append(
            Finding(FindingKind.ORPHANED, f"home:{home}", home, "no live tenant owns it", PRUNE)
        )
    return found


def _measure(services: Services, hosted: list[Hosted]) -> list[Finding]:
    """Each hosted tenant's disk use, stored on its row; those over a limit reported."""
    provider = accounts(services)
    used = {}
    for t in hosted:
        used[t.name] = provider.disk_usage(account_of_name(t)) // MB
    findings = []
    with services.store.unit_of_work() as uow:
        for name, mb in used.items():
            row = tenants(uow).get_live(name)
            if row is None:
                continue
            row.disk_used_mb, row.disk_measured_at = int(mb), utcnow()
            for problem in over(uow, row):
                detail = f"over its plan's limit: {problem}"
                findings.append(Finding(FindingKind.DRIFTED, f"limit:{name}", name, detail, REPORT))
    return findings


def account_of_name(t: Hosted) -> Account:
    return Account(t.name, t.user, t.made_for)


def _run(ctx: Services, op_id: str, step: StepDef[TenantRow], tenant: TenantRow) -> None:
    record_apply(ctx.store, op_id, step, ctx, tenant, tenant=tenant.name)


class TenantObserver:
    def observe(self, ctx: Services, calls: ProviderCalls) -> Observation:
        observation = Observation()
        if ctx.accounts is None:
            return observation
        provider = ctx.accounts
        hosted, live, made_for = _desired(ctx)
        seen: dict[str, object] = {}

        def listing() -> None:
            seen["homes"], seen["marked"] = provider.inventory()

        ask(calls, observation, "tenant-accounts", listing, 2)
        if seen:
            homes, marked = seen["homes"], seen["marked"]
            assert isinstance(homes, frozenset) and isinstance(marked, dict)
            observation.findings += diff(hosted, live, made_for, homes, marked)
            observation.findings += _measure(ctx, [t for t in hosted if t.user in marked])
        sftp = ctx.sftp
        if sftp is not None:
            drifted: list[list[str]] = []
            ask(calls, observation, "sftp", lambda: drifted.append(sftp.drift(desired_sftp(ctx))))
            if drifted and drifted[0]:
                files = ", ".join(drifted[0][:5]) + (", ..." if len(drifted[0]) > 5 else "")
                detail = f"the SFTP server's files differ from the database's: {files}"
                observation.findings.append(
                    Finding(FindingKind.DRIFTED, "sftp-config", None, detail, REGENERATE_SFTP)
                )
        observation.findings = [
            Finding(f.kind, f.resource, f.target, f.detail, f.action, f.step, KIND)
            for f in observation.findings
        ]
        return observation

    def act(self, ctx: Services, action: str, targets: list[str]) -> str:
        assert action == REGENERATE_SFTP, action
        return apply_sftp(ctx).value

    def repair(self, ctx: Services, run_id: str, target: str, steps: list[str]) -> str:
        """Re-run the account's apply (and SFTP's) under the tenant's operation slot."""
        try:
            with ctx.store.unit_of_work() as uow:
                tenant = tenants(uow).get_live(target)
                if tenant is None or tenant.status not in HOSTED:
                    raise ConflictError(f"tenant {target} is no longer hosted")
                op_id = take_repair_slot(
                    uow,
                    kind=TenantOp.REPAIR,
                    target_kind=KIND,
                    target_name=tenant.name,
                    target_id=tenant.id,
                    run_id=run_id,
                    steps=steps,
                    actor=ACTOR,
                    scope=tenant.id,
                )
        except ConflictError as exc:
            return f"skipped: {exc}"

        def work() -> None:
            for name in (Step.ACCOUNT, Step.SFTP):
                _run(ctx, op_id, BY_NAME[name], tenant)

        return run_repair(ctx.store, op_id, work)

    def prune(self, ctx: Services, finding: Finding) -> str:
        """A user or home of no live tenant: removed after checking that again."""
        kind, _, name = finding.resource.partition(":")
        _, live, made_for = _desired(ctx)
        owner = accounts(ctx).owner
        if kind == "system-user":
            mark = users.marked_users(owner).get(name)
            if mark is None:
                return "skipped: not this plane's user (any more)"
            what, _, of = mark.partition(":")
            if of in live or (what == "site" and of in made_for):
                return "skipped: a live tenant owns it now"
            site, tenant = (of, None) if what == "site" else (None, of)
            return users.remove_user(name, owner=owner, site=site, tenant=tenant).value
        if kind == "home" and name not in live:
            home = accounts(ctx).home(name)
            if home.is_dir():
                shutil.rmtree(home)
                return "deleted"
            return "absent"
        return "skipped: a live tenant owns it now"
