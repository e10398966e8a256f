"""hostctl site …, and hostctl regenerate (the edge belongs to the site kind)."""

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
    resource_line,
    run,
)
from hostplane.kinds.site.model import SiteOp, SiteStatus, validate_site_name

site_app = typer.Typer(no_args_is_help=True, help="Create, inspect and destroy sites.")
TARGET = {
    SiteOp.PROVISION: SiteStatus.ACTIVE,
    SiteOp.RETRY: SiteStatus.ACTIVE,
    SiteOp.DESTROY: SiteStatus.DESTROYED,
    SiteOp.REINSTALL: SiteStatus.ACTIVE,
}


def install(app: typer.Typer) -> None:
    app.add_typer(site_app, name="site")
    app.command()(regenerate)


def _finish(
    client: ApiClient, accepted: dict[str, Any], wait: bool, timeout: float, as_json: bool
) -> None:
    op = accepted["operation"]
    if not wait:
        if as_json:
            print_json(accepted)
        else:
            typer.echo(f"{op['kind']} of {accepted['site']} accepted: operation {op['id']}")
            _print_admin(accepted)
        return
    final = follow(client, op["id"], timeout, follow_console(as_json))
    site = client.get(f"/v1/sites/{accepted['site']}")
    if as_json:
        print_json({"operation": final, "site": site, "admin": accepted.get("admin")})
    if final["status"] != "SUCCEEDED" or site["status"] != TARGET[SiteOp(final["kind"])]:
        fail(f"site {site['name']} is {site['status']}: {final['error'] or site['last_error']}")
    if not as_json:
        # Through the same console as the live table, so the line follows it cleanly.
        message = f"site {site['name']} is {site['status']}: http://{site['hostname']}/"
        console.print(message, markup=False, highlight=False)
        _print_admin(accepted)


def _print_admin(accepted: dict[str, Any]) -> None:
    admin = accepted.get("admin")
    if admin:
        typer.echo(
            f"WordPress admin: user {admin['user']}, password {admin['password']} "
            f"(shown only now) — {admin['login_url']}"
        )


@site_app.command("create")
def site_create(
    ctx: typer.Context,
    name: str,
    type: Annotated[str, typer.Option("--type", help="static, php or wordpress")] = "static",
    runtime: Annotated[str | None, typer.Option(help="local or docker")] = None,
    admin_email: Annotated[str | None, typer.Option(help="finish the WordPress install")] = None,
    tenant: Annotated[
        str | None, typer.Option(help="its owner (default: a tenant of its own)")
    ] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="Idempotency-Key header")] = None,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 300.0,
    as_json: JsonOpt = False,
) -> None:
    """Create a site."""
    given = {
        "name": name,
        "tenant": tenant,
        "type": type,
        "runtime": runtime,
        "admin_email": admin_email,
    }
    body = {k: v for k, v in given.items() if v is not None}
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}

    def go(client: ApiClient) -> None:
        accepted = client.request("POST", "/v1/sites", json=body, headers=headers)
        _finish(client, accepted, wait, timeout, as_json)

    run(ctx, go)


@site_app.command("list")
def site_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="only sites in this status")] = None,
    tenant: Annotated[str | None, typer.Option(help="only this tenant's sites")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List sites (all pages)."""

    def go(client: ApiClient) -> None:
        items: list[dict[str, Any]] = []
        after = None
        while True:
            page = client.get("/v1/sites", status=status, after=after, limit=500, tenant=tenant)
            items += page["items"]
            after = page["next"]
            if not after:
                break
        if as_json:
            print_json(items)
            return
        table = Table("name", "tenant", "type", "runtime", "status", "updated")
        for s in items:
            row = (s["name"], s["tenant"] or "-", s["type"], s["runtime"], s["status"])
            table.add_row(*row, s["updated_at"])
        console.print(table)

    run(ctx, go)


@site_app.command("show")
def site_show(ctx: typer.Context, name: str, as_json: JsonOpt = False) -> None:
    """Show one site: status, domains, last error, recent events."""

    def go(client: ApiClient) -> None:
        site = client.get(f"/v1/sites/{name}")
        if as_json:
            print_json(site)
            return
        console.print(
            f"[bold]{site['name']}[/] ({site['type']}, {site['runtime']}) of tenant "
            f"{site['tenant']} {site['status']} — http://{site['hostname']}/"
        )
        if site["last_error"]:
            console.print(f"[red]last error:[/] {site['last_error']}")
        for d in site["domains"]:
            console.print(f"  domain {resource_line(d)}", markup=False, highlight=False)
        for e in site["events"][:10]:
            console.print(
                f"  {e['at']} {e['from_status'] or '-'} → {e['to_status']}: {e['reason']}"
            )

    run(ctx, go)


@site_app.command("destroy")
def site_destroy(
    ctx: typer.Context,
    name: str,
    keep_data: Annotated[bool, typer.Option(help="keep files and database")] = False,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 300.0,
    as_json: JsonOpt = False,
) -> None:
    """Destroy a site and everything it owns."""

    def go(client: ApiClient) -> None:
        params = {"keep_data": "true"} if keep_data else {}
        accepted = client.delete(f"/v1/sites/{name}", **params)
        _finish(client, accepted, wait, timeout, as_json)

    run(ctx, go)


@site_app.command("retry")
def site_retry(
    ctx: typer.Context,
    name: str,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 300.0,
    as_json: JsonOpt = False,
) -> None:
    """Run a FAILED site's last operation again."""
    _post(ctx, f"/v1/sites/{name}/retry", wait, timeout, as_json)


@site_app.command("reinstall")
def site_reinstall(
    ctx: typer.Context,
    name: str,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 300.0,
    as_json: JsonOpt = False,
) -> None:
    """Install WordPress afresh on a site whose data was lost: prints a new admin password."""
    _post(ctx, f"/v1/sites/{name}/reinstall", wait, timeout, as_json)


def _post(ctx: typer.Context, path: str, wait: bool, timeout: float, as_json: bool) -> None:
    run(ctx, lambda client: _finish(client, client.post(path), wait, timeout, as_json))


def regenerate(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Rebuild the edge config from the database alone and load it."""

    def go(client: ApiClient) -> None:
        result = client.post("/v1/edge/regenerate")
        if as_json:
            print_json(result)
        else:
            typer.echo(f"edge {result['outcome']}: {result['routes']} routes")

    run(ctx, go)


# --- hostctl apply: the `sites` of a tenant -------------------------------------------------


def observe_site(get: Get, name: str) -> dict[str, Any] | None:
    """A site's view, None when there is none (a destroyed site is none: its name is free)."""
    site: dict[str, Any] | None = get(f"/v1/sites/{name}")
    return None if site is None or site["status"] == SiteStatus.DESTROYED else site


def _diff_site(item: Item, current: Mapping[str, Any] | None) -> list[Action | Problem]:
    name, tenant = item.name, item.parent.name if item.parent else None
    wanted = {"type": item.value("type"), "runtime": item.value("runtime")}
    if current is None:
        body = {"name": name, "tenant": tenant, **{k: v for k, v in wanted.items() if v}}
        summary = f"create site {name} ({wanted['type']}, tenant {tenant})"
        path = f"/v1/sites/{name}"
        return [Action(summary, "POST", "/v1/sites", body, item.line, expect=(path, "ACTIVE"))]
    problems: list[Action | Problem] = []
    if current["tenant"] != tenant:
        problems.append(
            item.problem(f"belongs to tenant {current['tenant']}: apply does not move sites")
        )
    for key, value in wanted.items():
        if value is not None and value != current[key]:
            problems.append(
                item.problem(
                    f"{key} {current[key]} -> {value} cannot be changed by apply "
                    f"(a new site of another {key}, or hostctl site destroy first)",
                    key,
                )
            )
    status = current["status"]
    if status == SiteStatus.FAILED:
        problems.append(
            item.problem(
                f"is FAILED ({current.get('last_error') or 'no error recorded'}): "
                f"run hostctl site retry {name}, then apply again"
            )
        )
    elif status != SiteStatus.ACTIVE:
        problems.append(item.problem(f"is {status}: apply again once its operation has ended"))
    return problems


SITES = Section(
    key="sites",
    noun="site",
    parent="tenants",
    fields=(
        Field("name", required=True, check=validate_site_name),
        Field("type", default="static", choices=("static", "php", "wordpress")),
        Field("runtime", choices=("local", "docker")),
    ),
    observe=lambda get, item: observe_site(get, item.name),
    diff=_diff_site,
)
APPLY_SECTIONS = (SITES,)
