"""hostctl tenant …, hostctl tenant key …; hostctl plan … (plan_cli.py) and hostctl token …
(token_cli.py) are added here too."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
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
from hostplane.kinds.tenant.model import (
    TenantOp,
    TenantStatus,
    validate_plan_name,
    validate_tenant_name,
)
from hostplane.kinds.tenant.plan_cli import PLANS, plan_app
from hostplane.kinds.tenant.token_cli import token_app

tenant_app = typer.Typer(no_args_is_help=True, help="Tenants: the owners of sites.")
key_app = typer.Typer(no_args_is_help=True, help="A tenant's SSH keys (SFTP).")
tenant_app.add_typer(key_app, name="key")
TARGET = {
    TenantOp.CREATE: TenantStatus.ACTIVE,
    TenantOp.RETRY: TenantStatus.ACTIVE,
    TenantOp.SUSPEND: TenantStatus.SUSPENDED,
    TenantOp.UNSUSPEND: TenantStatus.ACTIVE,
    TenantOp.DELETE: TenantStatus.DELETED,
}


def install(app: typer.Typer) -> None:
    app.add_typer(tenant_app, name="tenant")
    app.add_typer(plan_app, name="plan")
    app.add_typer(token_app, name="token")


def _finish(
    client: ApiClient, accepted: dict[str, Any], wait: bool, timeout: float, as_json: bool
) -> None:
    op = accepted["operation"]
    if not wait:
        if as_json:
            print_json(accepted)
        else:
            typer.echo(f"{op['kind']} of {accepted['tenant']} accepted: operation {op['id']}")
        return
    final = follow(client, op["id"], timeout, follow_console(as_json))
    status = _status_after(client, accepted["tenant"], final)
    if as_json:
        print_json({"operation": final, "status": status})
    if final["status"] != "SUCCEEDED" or status != TARGET[TenantOp(final["kind"])]:
        fail(f"tenant {accepted['tenant']} is {status}: {final['error']}")
    if not as_json:
        console.print(f"tenant {accepted['tenant']} is {status}", markup=False, highlight=False)


def _status_after(client: ApiClient, name: str, final: dict[str, Any]) -> str:
    if final["kind"] == TenantOp.DELETE and final["status"] == "SUCCEEDED":
        return TenantStatus.DELETED  # a deleted tenant is not shown any more
    return str(client.get(f"/v1/tenants/{name}")["status"])


@tenant_app.command("create")
def tenant_create(
    ctx: typer.Context,
    name: str,
    plan: Annotated[str | None, typer.Option(help="its plan (default: default)")] = None,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 120.0,
    as_json: JsonOpt = False,
) -> None:
    """Create a tenant: its system user, its home, SFTP access."""
    run(
        ctx,
        lambda c: _finish(
            c, c.post("/v1/tenants", {"name": name, "plan": plan}), wait, timeout, as_json
        ),
    )


@tenant_app.command("list")
def tenant_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List tenants (all pages)."""

    def go(client: ApiClient) -> None:
        items: list[dict[str, Any]] = []
        after = None
        while True:
            page = client.get("/v1/tenants", after=after, limit=500)
            items += page["items"]
            after = page["next"]
            if not after:
                break
        if as_json:
            print_json(items)
            return
        table = Table("name", "status", "plan", "system user")
        for t in items:
            table.add_row(t["name"], t["status"], t["plan"], t["system_user"])
        console.print(table)

    run(ctx, go)


@tenant_app.command("show")
def tenant_show(ctx: typer.Context, name: str, as_json: JsonOpt = False) -> None:
    """Status, plan, usage against its limits (over-limit marked), what it owns, events."""

    def go(client: ApiClient) -> None:
        t = client.get(f"/v1/tenants/{name}")
        if as_json:
            print_json(t)
            return
        console.print(
            f"[bold]{t['name']}[/] {t['status']} — plan {t['plan']}, "
            f"user {t['system_user']}, home {t['home']}"
        )
        if t["suspension"]:
            console.print(f"suspended: {t['suspension']}", markup=False)
        for limit, u in t["usage"].items():
            used = "not measured" if u["used"] is None else u["used"]
            mark = "  OVER LIMIT" if u["over"] else ""
            console.print(f"  {limit}: {used} of {u['limit']}{mark}", markup=False)
        for kind, names in t["owns"].items():
            console.print(f"  {kind}: {', '.join(names) or '-'}", markup=False)
        for e in t["events"][:10]:
            console.print(
                f"  {e['at']} {e['from_status'] or '-'} → {e['to_status']}: {e['reason']}",
                markup=False,
            )

    run(ctx, go)


@tenant_app.command("suspend")
def tenant_suspend(
    ctx: typer.Context,
    name: str,
    reason: Annotated[str, typer.Option(help="why (kept in the audit log)")],
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 120.0,
    as_json: JsonOpt = False,
) -> None:
    """Its sites answer 503 'suspended', its PHP stops, its SFTP is refused."""
    body = {"reason": reason}
    run(
        ctx,
        lambda c: _finish(c, c.post(f"/v1/tenants/{name}/suspend", body), wait, timeout, as_json),
    )


@tenant_app.command("unsuspend")
def tenant_unsuspend(
    ctx: typer.Context,
    name: str,
    reason: Annotated[str, typer.Option(help="why")] = "unsuspended",
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 120.0,
    as_json: JsonOpt = False,
) -> None:
    """Serve it again exactly as it was."""
    body = {"reason": reason}
    run(
        ctx,
        lambda c: _finish(c, c.post(f"/v1/tenants/{name}/unsuspend", body), wait, timeout, as_json),
    )


@tenant_app.command("delete")
def tenant_delete(
    ctx: typer.Context,
    name: str,
    cascade: Annotated[bool, typer.Option(help="remove what it owns with it")] = False,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 300.0,
    as_json: JsonOpt = False,
) -> None:
    """Delete a tenant (refused while it owns anything, unless --cascade)."""
    params = {"cascade": "true"} if cascade else {}
    run(
        ctx, lambda c: _finish(c, c.delete(f"/v1/tenants/{name}", **params), wait, timeout, as_json)
    )


@key_app.command("add")
def key_add(
    ctx: typer.Context, tenant: str, public_key_file: Path, as_json: JsonOpt = False
) -> None:
    """Let a public key (a .pub file) log in over SFTP as the tenant."""
    try:
        text = public_key_file.read_text()
    except OSError as exc:
        fail(f"cannot read {public_key_file}: {exc.strerror}")
    key = run(ctx, lambda c: c.post(f"/v1/tenants/{tenant}/ssh-keys", {"public_key": text}))
    print_json(key) if as_json else typer.echo(f"key {key['fingerprint']} ({key['id']}) added")


@key_app.command("list")
def key_list(ctx: typer.Context, tenant: str, as_json: JsonOpt = False) -> None:
    keys = run(ctx, lambda c: c.get(f"/v1/tenants/{tenant}/ssh-keys"))["items"]
    if as_json:
        print_json(keys)
        return
    for k in keys:
        typer.echo(f"{k['id']}  {k['fingerprint']}  {k['algorithm']}  {k['comment']}")


@key_app.command("remove")
def key_remove(
    ctx: typer.Context,
    tenant: str,
    key: Annotated[str, typer.Argument(help="its id or fingerprint")],
) -> None:
    def go(client: ApiClient) -> None:
        keys = client.get(f"/v1/tenants/{tenant}/ssh-keys")["items"]
        found = [k for k in keys if key in (k["id"], k["fingerprint"])]
        if not found:
            fail(f"tenant {tenant} has no key {key}: see hostctl tenant key list {tenant}")
        client.delete(f"/v1/tenants/{tenant}/ssh-keys/{found[0]['id']}")
        typer.echo(f"key {found[0]['fingerprint']} removed")

    run(ctx, go)


# --- hostctl apply: the `tenants` section (the `plans` one is plan_cli.py's) ----------------


def _observe_tenant(get: Get, item: Item) -> dict[str, Any] | None:
    tenant: dict[str, Any] | None = get(f"/v1/tenants/{item.name}")
    return tenant


def _diff_tenant(item: Item, current: Mapping[str, Any] | None) -> list[Action | Problem]:
    name, plan = item.name, item.value("plan")
    path = f"/v1/tenants/{name}"
    if current is None:
        summary = f"create tenant {name}" + (f" on plan {plan}" if plan else "")
        body = {"name": name, "plan": plan}
        return [Action(summary, "POST", "/v1/tenants", body, item.line, expect=(path, "ACTIVE"))]
    status = current["status"]
    if status == TenantStatus.FAILED:
        return [
            item.problem(
                f"is FAILED ({current.get('last_error') or 'no error recorded'}): "
                f"run hostctl tenant retry {name}, then apply again"
            )
        ]
    if status not in (TenantStatus.ACTIVE, TenantStatus.SUSPENDED):
        return [item.problem(f"is {status}: apply again once its operation has ended")]
    if plan is None or current["plan"] == plan:
        return []  # no plan in the file: whichever it is on stays
    summary = f"update tenant {name}: plan {current['plan']} -> {plan}"
    line = item.lines.get("plan", item.line)
    return [Action(summary, "PUT", f"{path}/plan", {"plan": plan}, line, False)]


TENANTS = Section(
    key="tenants",
    noun="tenant",
    fields=(
        Field("name", required=True, check=validate_tenant_name),
        Field("plan", check=validate_plan_name),
    ),
    observe=_observe_tenant,
    diff=_diff_tenant,
)
APPLY_SECTIONS = (PLANS, TENANTS)
