"""What the reconciler observes of zones: every zone of this plane on PowerDNS and its RRsets,
in one provider call (`observe()`: the zone list and one search of all records), against the
database. A zone or RRset missing or changed by hand is repaired from the database (the
zone's restore step, under its operation slot); an RRset the database does not know is
reported; a zone marked as this plane's with no live row is an orphan (removed with prune)."""

from __future__ import annotations

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
from hostplane.kernel.steps import record_apply, run_repair
from hostplane.kinds.zone.model import KIND, SERVED, Step, ZoneOp, apex
from hostplane.kinds.zone.repo import as_rrset, records, zones
from hostplane.kinds.zone.steps import BY_NAME, is_platform, provider
from hostplane.kinds.zone.table import ZoneRow
from hostplane.providers.powerdns.rrsets import RRset, diff
from hostplane.services import Services

log = structlog.get_logger(__name__)
ACTOR = "reconciler"
PROVIDER = "powerdns"


def _finding(
    kind: FindingKind, resource: str, zone: str | None, detail: str, action: str
) -> Finding:
    step = Step.RESTORE if action == REPAIR else None
    return Finding(kind, resource, zone, detail, action, step=step, handler=KIND)


def _show(item: RRset) -> str:
    return f"{item.ttl} {' '.join(item.contents)}"


def findings_of_zone(
    zone: str, desired: list[RRset], platform: list[RRset], observed: tuple[RRset, ...]
) -> list[Finding]:
    """Pure: the differences of one zone of ours, as findings."""
    fqdn = zone + "."
    found: list[Finding] = []
    own = [i for i in observed if not is_platform(i, fqdn)]
    theirs = [i for i in observed if is_platform(i, fqdn)]
    for result, action in ((diff(desired, own), REPAIR), (diff(platform, theirs), REPAIR)):
        for item in result.missing:
            found.append(
                _finding(
                    FindingKind.MISSING,
                    f"rrset:{item.name} {item.type}",
                    zone,
                    f"PowerDNS lacks it; the database has {_show(item)}",
                    action,
                )
            )
        for want, have in result.drifted:
            found.append(
                _finding(
                    FindingKind.DRIFTED,
                    f"rrset:{want.name} {want.type}",
                    zone,
                    f"PowerDNS has {_show(have)}; the database has {_show(want)}",
                    action,
                )
            )
    for item in diff(desired, own).extra:
        found.append(
            _finding(
                FindingKind.ORPHANED,
                f"rrset:{item.name} {item.type}",
                zone,
                f"PowerDNS has {_show(item)}, which the database does not (made by hand?)",
                REPORT,
            )
        )
    return found


class ZoneObserver:
    def observe(self, ctx: Services, calls: ProviderCalls) -> Observation:
        observation = Observation()
        if ctx.zones is None:
            return observation
        api = ctx.zones
        seen: dict[str, tuple[RRset, ...]] = {}
        ask(calls, observation, PROVIDER, lambda: seen.update(api.observe()), n=2)
        if PROVIDER in observation.unreachable:
            return observation
        settings = ctx.settings
        with ctx.store.unit_of_work() as uow:
            live = {z.name: z for z in zones(uow).live()}
            served = [z for z in live.values() if z.status in SERVED]
            wanted = records(uow).of_zones([z.id for z in served])
            desired = {z.name: [as_rrset(r) for r in wanted[z.id]] for z in served}
        for zone in sorted(desired):
            fqdn = zone + "."
            if fqdn not in seen:
                observation.findings.append(
                    _finding(
                        FindingKind.MISSING,
                        f"zone:{zone}",
                        zone,
                        "the zone is ACTIVE in the database and absent from PowerDNS",
                        REPAIR,
                    )
                )
                continue
            platform = apex(
                zone,
                settings.zone_nameservers,
                settings.zone_hostmaster,
                settings.dns_default_ttl,
                settings.dns_negative_ttl,
            )
            observation.findings += findings_of_zone(zone, desired[zone], platform, seen[fqdn])
        for fqdn in sorted(seen):
            if fqdn.rstrip(".") not in live:
                observation.findings.append(
                    _finding(
                        FindingKind.ORPHANED,
                        f"zone:{fqdn.rstrip('.')}",
                        None,
                        "a zone marked as this plane's on PowerDNS that no live zone is behind",
                        PRUNE,
                    )
                )
        return observation

    def act(self, ctx: Services, action: str, targets: list[str]) -> str:
        return "skipped: zones have no action of their own"

    def repair(self, ctx: Services, run_id: str, target: str, steps: list[str]) -> str:
        """The zone and its RRsets put back from the database, under the zone's slot."""
        try:
            with ctx.store.unit_of_work() as uow:
                zone = zones(uow).get_live(target)
                if zone is None or zone.status not in SERVED:
                    raise ConflictError(f"zone {target} is no longer served")
                op_id = take_repair_slot(
                    uow,
                    kind=ZoneOp.REPAIR,
                    target_kind=KIND,
                    target_name=zone.name,
                    target_id=zone.id,
                    run_id=run_id,
                    steps=steps,
                    actor=ACTOR,
                    scope=zone.tenant_id,
                )
        except ConflictError as exc:
            return f"skipped: {exc}"
        return run_repair(ctx.store, op_id, lambda: _run(ctx, op_id, zone))

    def prune(self, ctx: Services, finding: Finding) -> str:
        """A zone of this plane with no live row: removed after checking that again."""
        kind, _, name = finding.resource.partition(":")
        if kind != "zone":
            return "skipped: only whole zones are pruned"
        with ctx.store.unit_of_work() as uow:
            if zones(uow).get_live(name) is not None:
                return "skipped: a live zone has it now"
        return provider(ctx).remove_zone(name).value


def _run(ctx: Services, op_id: str, zone: ZoneRow) -> None:
    record_apply(ctx.store, op_id, BY_NAME[Step.RESTORE], ctx, zone, zone=zone.name)
