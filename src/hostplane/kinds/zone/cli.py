"""hostctl zone …, hostctl record …; and the `zones` of a tenant in hostctl apply."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer
from rich.table import Table

from hostplane.cli.client import ApiClient, fail
from hostplane.cli.declare import Action, Field, Get, Item, Problem, Section
from hostplane.cli.follow import follow
from hostplane.cli.output import (
    JsonOpt,
    TimeoutOpt,
    WaitOpt,
    console,
    follow_console,
    print_json,
    run,
)
from hostplane.kinds.zone.model import ZoneOp, ZoneStatus, validate_zone_name

zone_app = typer.Typer(no_args_is_help=True, help="DNS zones a tenant hosts (PowerDNS).")
record_app = typer.Typer(no_args_is_help=True, help="A zone's records, one whole RRset at a time.")
TARGET = {
    ZoneOp.CREATE: ZoneStatus.ACTIVE,
    ZoneOp.RETRY: ZoneStatus.ACTIVE,
    ZoneOp.DELETE: ZoneStatus.DELETED,
}


def install(app: typer.Typer) -> None:
    app.add_typer(zone_app, name="zone")
    app.add_typer(record_app, name="record")


def _finish(
    client: ApiClient,
    accepted: dict[str, Any],
    wait: bool,
    timeout: float,
    as_json: bool,
    what: str = "",
) -> None:
    op, zone = accepted["operation"], accepted["zone"]
    if not wait:
        if as_json:
            print_json(accepted)
        else:
            typer.echo(f"{op['kind']} of {what or zone} accepted: operation {op['id']}")
        return
    final = follow(client, op["id"], timeout, follow_console(as_json))
    kind = ZoneOp(final["kind"])
    if kind == ZoneOp.RECORDS:
        if as_json:
            print_json({"operation": final})
        if final["status"] != "SUCCEEDED":
            fail(f"{what} not changed: {final['error']}")
        if not as_json:
            console.print(f"{what}: done", markup=False, highlight=False)
        return
    if kind == ZoneOp.DELETE and final["status"] == "SUCCEEDED":
        status = str(ZoneStatus.DELETED)  # a deleted zone is not shown any more
    else:
        status = str(client.get(f"/v1/zones/{zone}")["status"])
    if as_json:
        print_json({"operation": final, "status": status})
    if final["status"] != "SUCCEEDED" or status != TARGET[kind]:
        fail(f"zone {zone} is {status}: {final['error']}")
    if not as_json:
        console.print(f"zone {zone} is {status}", markup=False, highlight=False)


@zone_app.command("create")
def zone_create(
    ctx: typer.Context,
    name: str,
    tenant: Annotated[
        str | None, typer.Option(help="its tenant (a tenant's token: its own)")
    ] = None,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 120.0,
    as_json: JsonOpt = False,
) -> None:
    """Host a zone on PowerDNS (the platform's SOA and NS)."""
    body = {"name": name, "tenant": tenant}
    run(ctx, lambda c: _finish(c, c.post("/v1/zones", body), wait, timeout, as_json))


@zone_app.command("list")
def zone_list(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option(help="only this tenant's")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List zones (all pages)."""

    def go(client: ApiClient) -> None:
        items: list[dict[str, Any]] = []
        after = None
        while True:
            page = client.get("/v1/zones", after=after, limit=500, tenant=tenant)
            items += page["items"]
            after = page["next"]
            if not after:
                break
        if as_json:
            print_json(items)
            return
        table = Table("name", "tenant", "status")
        for z in items:
            table.add_row(z["name"], z["tenant"], z["status"])
        console.print(table)

    run(ctx, go)


def _rrset_lines(rrsets: list[dict[str, Any]]) -> list[str]:
    return [
        f"  {r['name']} {r['ttl']} {r['type']} {value}"
        + (f"  (platform: {r.get('managed_by') or 'settings'})" if r["platform_managed"] else "")
        for r in rrsets
        for value in r["contents"]
    ]


@zone_app.command("show")
def zone_show(ctx: typer.Context, name: str, as_json: JsonOpt = False) -> None:
    """Status, tenant, RRsets (the platform's marked), events."""

    def go(client: ApiClient) -> None:
        z = client.get(f"/v1/zones/{name}")
        if as_json:
            print_json(z)
            return
        console.print(f"[bold]{z['name']}[/] {z['status']} — tenant {z['tenant']}")
        if z["last_error"]:
            console.print(f"last error: {z['last_error']}", markup=False)
        for line in _rrset_lines(z["rrsets"]):
            console.print(line, markup=False, highlight=False)
        for e in z["events"][:10]:
            console.print(
                f"  {e['at']} {e['from_status'] or '-'} → {e['to_status']}: {e['reason']}",
                markup=False,
            )

    run(ctx, go)


@zone_app.command("delete")
def zone_delete(
    ctx: typer.Context,
    name: str,
    force: Annotated[
        bool, typer.Option("--force", help="also when it keeps bound domains' records")
    ] = False,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 120.0,
    as_json: JsonOpt = False,
) -> None:
    """Remove a zone and every record in it from PowerDNS (audited); refused while it keeps
    the records of bound custom domains, unless --force."""
    path = f"/v1/zones/{name}" + ("?force=true" if force else "")
    run(ctx, lambda c: _finish(c, c.delete(path), wait, timeout, as_json))


@zone_app.command("retry")
def zone_retry(
    ctx: typer.Context,
    name: str,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 120.0,
    as_json: JsonOpt = False,
) -> None:
    """Run a FAILED zone's last create or delete again."""
    run(ctx, lambda c: _finish(c, c.post(f"/v1/zones/{name}/retry"), wait, timeout, as_json))


@zone_app.command("export")
def zone_export(ctx: typer.Context, name: str, as_json: JsonOpt = False) -> None:
    """The zone as PowerDNS serves it, as a BIND zone file."""
    found = run(ctx, lambda c: c.get(f"/v1/zones/{name}/export", format="json"))
    print_json(found) if as_json else typer.echo(found["text"], nl=False)


@record_app.command("set")
def record_set(
    ctx: typer.Context,
    zone: str,
    name: Annotated[str, typer.Argument(help="full name inside the zone, or @")],
    rtype: Annotated[str, typer.Argument(metavar="TYPE", help="A, AAAA, CNAME, MX, TXT, ...")],
    values: Annotated[list[str], typer.Argument(metavar="VALUE...", help="every value")],
    ttl: Annotated[int | None, typer.Option(min=1, help="seconds")] = None,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 60.0,
    as_json: JsonOpt = False,
) -> None:
    """Replace the whole RRset NAME TYPE with these values (give every value it keeps)."""
    body: dict[str, Any] = {"contents": values}
    if ttl is not None:
        body["ttl"] = ttl
    path = f"/v1/zones/{zone}/records/{name}/{rtype.upper()}"
    what = f"{name} {rtype.upper()}"
    run(
        ctx,
        lambda c: _finish(c, c.request("PUT", path, json=body), wait, timeout, as_json, what),
    )


@record_app.command("delete")
def record_delete(
    ctx: typer.Context,
    zone: str,
    name: str,
    rtype: Annotated[str, typer.Argument(metavar="TYPE")],
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 60.0,
    as_json: JsonOpt = False,
) -> None:
    """Delete the RRset NAME TYPE."""
    path = f"/v1/zones/{zone}/records/{name}/{rtype.upper()}"
    what = f"{name} {rtype.upper()}"
    run(ctx, lambda c: _finish(c, c.delete(path), wait, timeout, as_json, what))


@record_app.command("list")
def record_list(ctx: typer.Context, zone: str, as_json: JsonOpt = False) -> None:
    """Every RRset of the zone (the platform's SOA and NS marked)."""
    items = run(ctx, lambda c: c.get(f"/v1/zones/{zone}/records"))["items"]
    if as_json:
        print_json(items)
        return
    for line in _rrset_lines(items):
        console.print(line.strip(), markup=False, highlight=False)


# --- hostctl apply: the `zones` of a tenant -------------------------------------------------


def observe_zone(get: Get, name: str) -> dict[str, Any] | None:
    zone: dict[str, Any] | None = get(f"/v1/zones/{name}")
    return None if zone is None or zone["status"] == ZoneStatus.DELETED else zone


def _diff_zone(item: Item, current: Mapping[str, Any] | None) -> list[Action | Problem]:
    name, tenant = item.name, item.parent.name if item.parent else None
    if current is None:
        body = {"name": name, "tenant": tenant}
        summary = f"create zone {name} (tenant {tenant})"
        path = f"/v1/zones/{name}"
        return [Action(summary, "POST", "/v1/zones", body, item.line, expect=(path, "ACTIVE"))]
    if current["tenant"] != tenant:
        return [item.problem(f"belongs to tenant {current['tenant']}: apply does not move zones")]
    if current["status"] == ZoneStatus.FAILED:
        return [
            item.problem(
                f"is FAILED ({current.get('last_error') or 'no error recorded'}): "
                f"run hostctl zone retry {name}, then apply again"
            )
        ]
    if current["status"] != ZoneStatus.ACTIVE:
        return [item.problem(f"is {current['status']}: apply again once its operation has ended")]
    return []


def _check_zone(value: str) -> str:
    return validate_zone_name(value, base_domain="invalid.")


ZONES = Section(
    key="zones",
    noun="zone",
    parent="tenants",
    fields=(Field("name", required=True, check=_check_zone),),
    observe=lambda get, item: observe_zone(get, item.name),
    diff=_diff_zone,
    shorthand="name",
)
APPLY_SECTIONS = (ZONES,)
