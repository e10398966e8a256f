"""What the reconciler observes of tenants' databases: this plane's databases, its accounts
and their database-level grants, in two queries (`observe_tenants`), against the state
database. A dropped account, a missing or changed grant, or a grant on another database made
by hand is repaired (the user's step, under its operation slot: the account ensured with its
sealed password, granted on exactly its database), and so is an account unlocked while its
tenant is suspended (or locked while it is not). An ACTIVE database that is gone has lost
its data: reported, never made again empty. A database or account with this plane's mark (or
claim) and no live row is an orphan (removed with prune); unmarked ones are never listed."""

from __future__ import annotations

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
from hostplane.kernel.operations import refuse_if_busy
from hostplane.kernel.steps import record_apply, repair_row
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kinds.database.model import (
    DATABASE_PREFIX,
    KIND,
    SERVED,
    USER_KIND,
    USER_PREFIX,
    DatabaseOp,
    Step,
    privilege_level,
)
from hostplane.kinds.database.repo import databases, users
from hostplane.kinds.database.steps import BY_NAME, provider
from hostplane.kinds.database.table import DatabaseUserRow
from hostplane.kinds.tenant.repo import tenants
from hostplane.providers.mariadb.identifiers import grant_pattern
from hostplane.providers.mariadb.tenant_dbs import TenantObservation
from hostplane.services import Services

ACTOR = "reconciler"
PROVIDER = "mariadb-tenants"


def _finding(
    kind: FindingKind, resource: str, target: str | None, detail: str, action: str
) -> Finding:
    step = Step.USER if action == REPAIR else None
    return Finding(kind, resource, target, detail, action, step=step, handler=KIND)


def findings(
    seen: TenantObservation,
    served: dict[str, str],
    wanted: dict[str, tuple[str, str, bool]],
    live_databases: set[str],
    live_users: set[str],
) -> list[Finding]:
    """Pure: the differences. `served`: ACTIVE database → its tenant's label for it;
    `wanted`: ACTIVE user of an ACTIVE database → (its database, its privileges, whether it
    is to be locked: its tenant suspended)."""
    found: list[Finding] = []
    for name in sorted(served):
        if name not in seen.databases:
            found.append(
                _finding(
                    FindingKind.LOST,
                    f"database:{name}",
                    None,
                    "the database is ACTIVE in the state database and gone from MariaDB: its "
                    "data is lost; it is not made again empty (delete it, or restore a dump)",
                    REPORT,
                )
            )
    for user, (database, level, locked) in sorted(wanted.items()):
        if user not in seen.accounts:
            found.append(
                _finding(
                    FindingKind.MISSING,
                    f"user:{user}",
                    user,
                    f"the account of database {database} is gone from MariaDB",
                    REPAIR,
                )
            )
            continue
        if (user in seen.locked) != locked:
            found.append(
                _finding(
                    FindingKind.DRIFTED,
                    f"lock:{user}",
                    user,
                    "the account is unlocked while its tenant is suspended (unlocked by hand?)"
                    if locked
                    else "the account is locked while its tenant is not suspended",
                    REPAIR,
                )
            )
        held = seen.grants.get(user, {})
        target = grant_pattern(database)
        if target not in held:
            found.append(
                _finding(
                    FindingKind.MISSING,
                    f"grant:{user} on {database}",
                    user,
                    f"the account has no grant on its database; the state database has {level}",
                    REPAIR,
                )
            )
        elif privilege_level(held[target]) != level:
            found.append(
                _finding(
                    FindingKind.DRIFTED,
                    f"grant:{user} on {database}",
                    user,
                    f"the account holds {', '.join(sorted(held[target]))}; the state database "
                    f"has {level}",
                    REPAIR,
                )
            )
        for pattern in sorted(set(held) - {target}):
            found.append(
                _finding(
                    FindingKind.DRIFTED,
                    f"grant:{user} on {pattern}",
                    user,
                    f"the account holds a grant on {pattern}, not its database (made by hand?)",
                    REPAIR,
                )
            )
    for name in sorted(seen.databases - live_databases):
        found.append(
            _finding(
                FindingKind.ORPHANED,
                f"database:{name}",
                None,
                "a database marked as this plane's that no live database is behind",
                PRUNE,
            )
        )
    for name in sorted(seen.accounts - live_users):
        found.append(
            _finding(
                FindingKind.ORPHANED,
                f"user:{name}",
                None,
                "an account this plane claims that no live database user is behind",
                PRUNE,
            )
        )
    return found


class DatabaseObserver:
    def observe(self, ctx: Services, calls: ProviderCalls) -> Observation:
        observation = Observation()
        if ctx.tenant_databases is None:
            return observation
        mariadb = ctx.tenant_databases
        seen: list[TenantObservation] = []
        ask(
            calls,
            observation,
            PROVIDER,
            lambda: seen.append(mariadb.observe_tenants(DATABASE_PREFIX, USER_PREFIX)),
            n=2,
        )
        if PROVIDER in observation.unreachable or not seen:
            return observation
        with ctx.store.unit_of_work() as uow:
            # A database at work (a reassign moving it, a delete) is its operation's: not
            # judged, so a repair never makes again an account the operation dropped.
            busy = {op.target_name for op in uow.operations.unfinished() if op.target_kind == KIND}
            live = {d.id: d for d in databases(uow).live() if d.name not in busy}
            live_users = users(uow).live()
            suspended = {t.id for t in tenants(uow).live() if t.suspension is not None}
            # A site's database is the site kind's to observe (its wp_ database and user).
            served = {
                d.name: d.label for d in live.values() if d.status in SERVED and d.site is None
            }
            wanted = {
                u.name: (live[u.database_id].name, u.privileges, u.tenant_id in suspended)
                for u in live_users
                if u.status in SERVED
                and u.database_id in live
                and live[u.database_id].status in SERVED
            }
            names = {d.name for d in live.values()} | busy
            accounts = {u.name for u in live_users}
        observation.findings += findings(seen[0], served, wanted, names, accounts)
        return observation

    def act(self, ctx: Services, action: str, targets: list[str]) -> str:
        return "skipped: databases have no action of their own"

    def repair(self, ctx: Services, run_id: str, target: str, steps: list[str]) -> str:
        """The account and its grant put back from the state database, under its slot."""

        def load(uow: UnitOfWork) -> DatabaseUserRow:
            user = users(uow).get_live(target)
            if user is None or user.status not in SERVED:
                raise ConflictError(f"database user {target} is no longer ACTIVE")
            db = databases(uow).get(user.database_id)
            assert db is not None
            refuse_if_busy(uow, KIND, db.name)  # a reassign or delete owns its accounts
            return user

        step = BY_NAME[Step.USER]
        return repair_row(
            ctx.store,
            run_id=run_id,
            steps=steps,
            kind=DatabaseOp.USER_REPAIR,
            target_kind=USER_KIND,
            actor=ACTOR,
            load=load,
            work=lambda user, op_id: record_apply(
                ctx.store, op_id, step, ctx, user, database_user=user.name
            ),
        )

    def prune(self, ctx: Services, finding: Finding) -> str:
        """A database or account of this plane with no live row: removed after checking
        that again (the provider removes only what is this plane's)."""
        kind, _, name = finding.resource.partition(":")
        with ctx.store.unit_of_work() as uow:
            if kind == "database" and databases(uow).get_live(name) is not None:
                return "skipped: a live database has it now"
            if kind == "user" and users(uow).get_live(name) is not None:
                return "skipped: a live database user has it now"
        if kind == "database":
            return provider(ctx).remove_tenant_database(name).value
        if kind == "user":
            return provider(ctx).remove_account(name).value
        return "skipped: only databases and accounts are pruned"
