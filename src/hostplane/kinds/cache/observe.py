"""What the reconciler observes of tenants' caches: this plane's instances in one directory
scan (`RedisInstances.observe`: process alive, config as generated, socket as configured),
then each running instance's ACL users in one `ACL LIST` (`RedisAcl.compare`), against the
state database. An instance not running, with a config that is not the one its row renders
(edited, or the row changed), or without its socket, is repaired by its instance step under
its slot (`ensure`: started, rewritten, restarted) and its users are put back with it; a user
missing, or edited by hand (password, keys, channels, commands, on/off), is put back by its
user step. An instance with this plane's mark and no live row, or an ACL user in one of ours
that no row wants, is an orphan (removed with prune); unmarked instances are never listed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from typing import TypeVar

from hostplane.errors import ConflictError
from hostplane.kernel.drift import (
    PRUNE,
    REPAIR,
    Finding,
    FindingKind,
    Observation,
    ProviderCalls,
    ask,
)
from hostplane.kernel.operations import refuse_if_busy
from hostplane.kernel.steps import record_apply, repair_row
from hostplane.kernel.store.uow import UnitOfWork
from hostplane.kinds.cache.model import KIND, SERVED, USER_KIND, CacheOp, Step, user_handle
from hostplane.kinds.cache.repo import caches, users
from hostplane.kinds.cache.steps import BY_NAME, PASSWORD, SECRET_OWNER, acl, provider, spec_of
from hostplane.kinds.cache.table import CacheRow, CacheUserRow
from hostplane.kinds.tenant.repo import tenants
from hostplane.providers.redis.instances import InstanceState
from hostplane.providers.redis.rules import WantedUser, password_hash
from hostplane.services import Services

ACTOR = "reconciler"
PROVIDER = "redis-instances"
ACL_PROVIDER = "redis-acl"


def _finding(
    kind: FindingKind, resource: str, target: str | None, detail: str, action: str, step: str
) -> Finding:
    return Finding(kind, resource, target, detail, action, step=step, handler=KIND)


def instance_findings(
    seen: Iterable[InstanceState], wanted: Mapping[str, str], live: set[str]
) -> list[Finding]:
    """Pure: the instances' differences. `wanted`: a served cache's instance → the digest of
    the config its row renders; `live`: every live cache's instance."""
    found: list[Finding] = []
    states = {s.name: s for s in seen}
    for name, digest in sorted(wanted.items()):
        state = states.get(name)
        problem = None
        if state is None:
            kind, problem = FindingKind.MISSING, "the instance is gone (no directory, no config)"
        elif not state.alive:
            kind, problem = FindingKind.DRIFTED, "the instance is not running"
        elif not state.config_intact or state.digest != digest:
            kind, problem = (
                FindingKind.DRIFTED,
                "its config is not the one the state database renders",
            )
        elif not state.socket_as_configured:
            kind, problem = FindingKind.DRIFTED, "its socket is gone or not as configured"
        if problem is not None:
            resource = f"instance:{name}"
            found.append(_finding(kind, resource, name, problem, REPAIR, Step.INSTANCE))
    for name in sorted(states.keys() - live):
        found.append(
            _finding(
                FindingKind.ORPHANED,
                f"instance:{name}",
                None,
                "an instance marked as this plane's that no live cache is behind",
                PRUNE,
                Step.INSTANCE,
            )
        )
    return found


def user_findings(
    instance: str, report: Mapping[str, tuple[str, ...]], live: Set[str] = frozenset()
) -> list[Finding]:
    """Pure: one instance's ACL users as `RedisAcl.compare` reported them. `live`: the
    handles of every live user row (one being made or deleted is no orphan)."""
    found: list[Finding] = []
    for user, differences in sorted(report.items()):
        handle = user_handle(instance, user)
        if differences == ("unexpected",):
            if handle in live:
                continue
            detail = "an ACL user in this plane's instance that no live cache user is behind"
            found.append(
                _finding(FindingKind.ORPHANED, f"user:{handle}", None, detail, PRUNE, Step.USER)
            )
        elif differences == ("missing",):
            detail = "the ACL user is gone from its instance"
            found.append(
                _finding(FindingKind.MISSING, f"user:{handle}", handle, detail, REPAIR, Step.USER)
            )
        else:
            detail = f"the ACL user differs from the state database: {', '.join(differences)}"
            found.append(
                _finding(FindingKind.DRIFTED, f"user:{handle}", handle, detail, REPAIR, Step.USER)
            )
    return found


def _users(
    ctx: Services,
    calls: ProviderCalls,
    observation: Observation,
    instance: str,
    wanted: list[WantedUser],
    live: Set[str],
) -> list[Finding]:
    """One running instance's ACL users against the wanted ones, in one `ACL LIST`."""
    reports: list[dict[str, tuple[str, ...]]] = []
    compare = acl(ctx).compare
    ask(calls, observation, ACL_PROVIDER, lambda: reports.append(compare(instance, wanted)), n=3)
    return user_findings(instance, reports[0], live) if reports else []


Row = TypeVar("Row", CacheRow, CacheUserRow)


def _served(row: Row | None, what: str) -> Row:
    """The row a repair works on, if it is still ACTIVE; ConflictError (skipped) if not."""
    if row is None or row.status not in SERVED:
        raise ConflictError(f"{what} is no longer ACTIVE")
    return row


def _user_to_repair(uow: UnitOfWork, handle: str) -> CacheUserRow:
    """An ACTIVE user whose cache no operation holds (a reassign deletes the old tenant's
    users on purpose: putting them back meanwhile would let them in again)."""
    user = _served(users(uow).get_live(handle), f"cache user {handle}")
    cache = caches(uow).get(user.cache_id)
    assert cache is not None
    refuse_if_busy(uow, KIND, cache.name)
    return user


def _apply(ctx: Services, op_id: str, step: str, row: CacheRow | CacheUserRow) -> None:
    context = {"cache_user" if isinstance(row, CacheUserRow) else "cache": row.name}
    record_apply(ctx.store, op_id, BY_NAME[step], ctx, row, **context)


class CacheObserver:
    def observe(self, ctx: Services, calls: ProviderCalls) -> Observation:
        observation = Observation()
        if ctx.caches is None:
            return observation
        instances = ctx.caches
        seen: list[list[InstanceState]] = []
        ask(calls, observation, PROVIDER, lambda: seen.append(instances.observe()))
        if PROVIDER in observation.unreachable or not seen:
            return observation
        with ctx.store.unit_of_work() as uow:
            live = caches(uow).live()
            served = [c for c in live if c.status in SERVED]
            wanted_users = self._wanted_users(ctx, uow, list(served))
            live_users = {u.name for u in users(uow).live()}
            digests = {}
            for cache in served:
                tenant = tenants(uow).get(cache.tenant_id)
                assert tenant is not None
                digests[cache.name] = instances.digest(spec_of(ctx, cache, tenant))
        findings = instance_findings(seen[0], digests, {c.name for c in live})
        observation.findings += findings
        broken = {f.target for f in findings if f.action == REPAIR}
        running = {s.name for s in seen[0] if s.alive}
        for name in sorted(digests.keys() & running - broken):
            wanted = wanted_users.get(name, [])
            observation.findings += _users(ctx, calls, observation, name, wanted, live_users)
        return observation

    @staticmethod
    def _wanted_users(
        ctx: Services, uow: UnitOfWork, served: list[CacheRow]
    ) -> dict[str, list[WantedUser]]:
        """Each served cache's ACTIVE users as they should be (off while suspended)."""
        by_id = {c.id: c for c in served}
        rows = [u for u in users(uow).live() if u.status in SERVED and u.cache_id in by_id]
        sealed = uow.secrets.for_owners(SECRET_OWNER, [u.id for u in rows], [PASSWORD])
        wanted: dict[str, list[WantedUser]] = {}
        for user in rows:
            secret = sealed.get(user.id, {}).get(PASSWORD)
            tenant = tenants(uow).get(user.tenant_id)
            if secret is None or tenant is None:
                continue
            digest = password_hash(ctx.secrets.open(secret))
            enabled = tenant.suspension is None
            wanted.setdefault(by_id[user.cache_id].name, []).append(
                WantedUser(user.label, user.key_prefix, digest, enabled)
            )
        return wanted

    def act(self, ctx: Services, action: str, targets: list[str]) -> str:
        return "skipped: caches have no action of their own"

    def repair(self, ctx: Services, run_id: str, target: str, steps: list[str]) -> str:
        """An instance (and its users), or one user, put back from the state database, under
        its operation slot."""
        if Step.INSTANCE not in steps:
            return repair_row(
                ctx.store,
                kind=CacheOp.USER_REPAIR,
                target_kind=USER_KIND,
                load=lambda uow: _user_to_repair(uow, target),
                work=lambda user, op_id: _apply(ctx, op_id, Step.USER, user),
                run_id=run_id,
                steps=steps,
                actor=ACTOR,
            )

        def work(row: CacheRow, op_id: str) -> None:
            _apply(ctx, op_id, Step.INSTANCE, row)
            with ctx.store.unit_of_work() as uow:
                members = [u for u in users(uow).of_cache(row.id) if u.status in SERVED]
            for user in members:  # a new instance has none; a restarted one keeps its file
                _apply(ctx, op_id, Step.USER, user)

        return repair_row(
            ctx.store,
            kind=CacheOp.REPAIR,
            target_kind=KIND,
            load=lambda uow: _served(caches(uow).get_live(target), f"cache {target}"),
            work=work,
            run_id=run_id,
            steps=steps,
            actor=ACTOR,
        )

    def prune(self, ctx: Services, finding: Finding) -> str:
        """An instance of this plane with no live row, or an ACL user no row wants: removed
        after checking that again (the provider touches only instances marked as ours)."""
        kind, _, name = finding.resource.partition(":")
        with ctx.store.unit_of_work() as uow:
            if kind == "instance" and caches(uow).get_live(name) is not None:
                return "skipped: a live cache has it now"
            if kind == "user" and users(uow).get_live(name) is not None:
                return "skipped: a live cache user has it now"
        if kind == "instance":
            return provider(ctx).remove(name).value
        if kind == "user":
            instance, _, user = name.partition("/")
            return acl(ctx).remove_user(instance, user).value
        return "skipped: only instances and ACL users are pruned"
