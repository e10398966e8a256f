"""hostctl domain … and hostctl dns …"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from hostplane.cli.client import ApiClient, CliError, fail
from hostplane.cli.declare import Action, Field, Get, Item, Problem, Section
from hostplane.cli.follow import follow
from hostplane.cli.output import (
    JsonOpt,
    TimeoutOpt,
    WaitOpt,
    certificate_text,
    console,
    follow_console,
    print_json,
    resource_line,
    run,
)
from hostplane.errors import HostplaneError, ValidationError
from hostplane.kinds.domain.model import DomainStatus, normalize_domain
from hostplane.kinds.site.cli import observe_site
from hostplane.settings import Settings

domain_app = typer.Typer(no_args_is_help=True, help="Custom domains of sites.")
dns_app = typer.Typer(no_args_is_help=True, help="What custom domains' DNS is checked against.")


def install(app: typer.Typer) -> None:
    app.add_typer(domain_app, name="domain")
    app.add_typer(dns_app, name="dns")


def finish(
    client: ApiClient, accepted: dict[str, Any], wait: bool, timeout: float, as_json: bool
) -> None:
    """Print what a domain request did, or follow its operation to the end with --wait."""
    domain, op = accepted["domain"], accepted["operation"]
    if op is None or not wait:
        if as_json:
            print_json(accepted)
        elif op is None:
            typer.echo(f"nothing to do: {resource_line(domain)}")
        else:
            typer.echo(f"{op['kind']} of {domain['name']} accepted: operation {op['id']}")
        return
    final = follow(client, op["id"], timeout, follow_console(as_json))
    view = client.get(f"/v1/sites/{domain['site']}/domains/{quote(domain['name'], safe='')}")
    if as_json:
        print_json({"operation": final, "domain": view})
    if final["status"] != "SUCCEEDED":
        fail(f"domain {view['name']} is {view['status']}: {final['error'] or view['last_error']}")
    if not as_json:
        console.print(resource_line(view), markup=False, highlight=False)


@domain_app.command("add")
def domain_add(
    ctx: typer.Context,
    site: str,
    domain: str,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 600.0,
    as_json: JsonOpt = False,
) -> None:
    """Attach DOMAIN to SITE: it is routed once its DNS points at the platform."""

    def go(client: ApiClient) -> None:
        accepted = client.request("POST", f"/v1/sites/{site}/domains", json={"domain": domain})
        finish(client, accepted, wait, timeout, as_json)

    run(ctx, go)


@domain_app.command("remove")
def domain_remove(
    ctx: typer.Context,
    site: str,
    domain: str,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 300.0,
    as_json: JsonOpt = False,
) -> None:
    """Detach DOMAIN from SITE: its route, certificate and tunnel rule are removed."""

    def go(client: ApiClient) -> None:
        accepted = client.delete(f"/v1/sites/{site}/domains/{quote(domain, safe='')}")
        finish(client, accepted, wait, timeout, as_json)

    run(ctx, go)


@domain_app.command("list")
def domain_list(ctx: typer.Context, site: str, as_json: JsonOpt = False) -> None:
    """List SITE's domains with their state, last DNS check and error."""

    def go(client: ApiClient) -> None:
        items = client.get(f"/v1/sites/{site}/domains")["items"]
        if as_json:
            print_json(items)
            return
        table = Table("domain", "status", "certificate", "last check", "error")
        for d in items:
            table.add_row(
                d["display"],
                d["status"],
                certificate_text(d["certificate"]),
                (d["last_checked_at"] or "")[:19],
                d["last_error"] or "",
            )
        console.print(table)

    run(ctx, go)


@domain_app.command("check")
def domain_check(ctx: typer.Context, site: str, domain: str, as_json: JsonOpt = False) -> None:
    """Print what DNS says for DOMAIN against what is expected; changes nothing.
    Exits 0 when DNS is right, 1 when it is not (yet), 2 when the check itself failed."""

    def go(client: ApiClient) -> None:
        try:
            view = client.get(f"/v1/sites/{site}/domains/{quote(domain, safe='')}/dns")
        except CliError as exc:
            fail(str(exc), code=2)
        if as_json:
            print_json(view)
        else:
            typer.echo(f"{view['display']} ({view['domain']}): {view['explanation']}")
        if not view["ok"]:
            raise typer.Exit(1)

    run(ctx, go)


@dns_app.command("refresh-cloudflare-ranges")
def dns_refresh_cloudflare_ranges(
    ctx: typer.Context,
    url: Annotated[
        list[str] | None, typer.Option(help="list to fetch (repeat); default: Cloudflare's")
    ] = None,
) -> None:
    """Fetch Cloudflare's published IP ranges into the data directory (used with
    HOSTPLANE_DNS_MODE=cloudflare; restart the control plane to apply)."""
    from hostplane.providers.dnscheck.resolver import CLOUDFLARE_URLS, refresh_cloudflare_ranges

    settings: Settings = ctx.obj
    try:
        networks = refresh_cloudflare_ranges(settings.data_dir, url or CLOUDFLARE_URLS)
    except HostplaneError as exc:
        fail(str(exc))
    v4 = sum(1 for n in networks if n.version == 4)
    typer.echo(
        f"{len(networks)} ranges ({v4} IPv4, {len(networks) - v4} IPv6) saved in "
        f"{settings.data_dir / 'cloudflare-ips.txt'}"
    )


# --- hostctl apply: the `domains` of a site -------------------------------------------------


def _ascii(domain: str) -> str:
    """The name as the API shows it (lowercase, punycode); the platform's base domain is the
    API's to refuse."""
    try:
        return normalize_domain(domain, base_domain="")
    except ValidationError:
        return domain.lower()


def _ascii_strict(domain: str) -> str:
    return normalize_domain(domain, base_domain="")


def _observe_domain(get: Get, item: Item) -> Mapping[str, Any] | None:
    site = observe_site(get, item.parent.name) if item.parent else None
    wanted = _ascii(item.name)
    return next((d for d in (site or {}).get("domains", []) if d["name"] == wanted), None)


def _diff_domain(item: Item, current: Mapping[str, Any] | None) -> list[Action | Problem]:
    site = item.parent.name if item.parent else "?"
    path = f"/v1/sites/{site}/domains"
    body = {"domain": item.name}
    # Not followed: an added domain waits (PENDING) until its DNS points at the platform, which
    # may take hours; the add is recorded, and its operation goes on without apply.
    summary = f"add domain {item.name} to site {site}"
    note = "routed once its DNS points here (hostctl domain list)"
    if current is None:
        return [Action(summary, "POST", path, body, item.line, follow=False, note=note)]
    if current["status"] == DomainStatus.FAILED:
        again = f"{summary} again (it FAILED: {current.get('last_error') or 'no error recorded'})"
        return [Action(again, "POST", path, body, item.line, follow=False, note=note)]
    if current["status"] == DomainStatus.REMOVING:
        return [item.problem("is being removed: apply again once it is gone")]
    return []


DOMAINS = Section(
    key="domains",
    noun="domain",
    parent="sites",
    fields=(Field("name", required=True, check=_ascii_strict),),
    observe=_observe_domain,
    diff=_diff_domain,
    shorthand="name",
)
APPLY_SECTIONS = (DOMAINS,)
