"""hostctl: run the control plane and drive it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import pydantic
import typer
from rich.console import Console
from rich.table import Table

from hostplane.cli.client import ApiClient, CliError, fail
from hostplane.cli.follow import follow
from hostplane.domain.errors import HostplaneError
from hostplane.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
site_app = typer.Typer(no_args_is_help=True, help="Create, inspect and destroy sites.")
op_app = typer.Typer(no_args_is_help=True, help="Inspect operations.")
app.add_typer(site_app, name="site")
app.add_typer(op_app, name="op")
domain_app = typer.Typer(no_args_is_help=True, help="Custom domains of sites.")
app.add_typer(domain_app, name="domain")
dns_app = typer.Typer(no_args_is_help=True, help="What custom domains' DNS is checked against.")
app.add_typer(dns_app, name="dns")

console = Console()
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
WaitOpt = Annotated[bool, typer.Option("--wait", help="Follow the operation to its end.")]
TimeoutOpt = Annotated[float, typer.Option(help="Seconds --wait waits at most.")]
TARGET = {"provision": "ACTIVE", "retry": "ACTIVE", "destroy": "DESTROYED"}


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option(help="TOML settings file.")] = None,
) -> None:
    try:
        ctx.obj = Settings.load(config)
    except (pydantic.ValidationError, HostplaneError) as exc:
        fail(_settings_error(exc))


def _settings_error(exc: Exception) -> str:
    if isinstance(exc, pydantic.ValidationError):
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        return f"setting {field} (HOSTPLANE_{field.upper()}): {first['msg']}"
    return str(exc)


def _client(ctx: typer.Context) -> ApiClient:
    try:
        return ApiClient(ctx.obj)
    except CliError as exc:
        fail(str(exc))


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True))


def _run(ctx: typer.Context, fn: Any) -> Any:
    try:
        return fn(_client(ctx))
    except CliError as exc:
        fail(str(exc))


# --- serving ---------------------------------------------------------------


def _serve(ctx: typer.Context, *, api: bool, work: bool) -> None:
    from hostplane.cli.serve import serve

    try:
        serve(ctx.obj, api=api, work=work)
    except (HostplaneError, RuntimeError) as exc:
        fail(str(exc))


@app.command()
def up(
    ctx: typer.Context,
    stop_edge: Annotated[
        bool,
        typer.Option(
            "--stop-edge",
            help="Stop the edge (Caddy) when exiting; by default it keeps serving the sites "
            "and the next start adopts it (HOSTPLANE_EDGE_STOP_ON_EXIT).",
        ),
    ] = False,
) -> None:
    """Run the whole control plane (API, worker, edge) in the foreground."""
    if stop_edge:
        ctx.obj = ctx.obj.model_copy(update={"edge_stop_on_exit": True})
    _serve(ctx, api=True, work=True)


@app.command("api")
def api_only(ctx: typer.Context) -> None:
    """Run only the API; workers run the operations it records."""
    _serve(ctx, api=True, work=False)


@app.command()
def worker(ctx: typer.Context) -> None:
    """Run only a worker: it runs operations and keeps the edge in step."""
    _serve(ctx, api=False, work=True)


# --- sites -----------------------------------------------------------------


def _finish(
    ctx: typer.Context,
    client: ApiClient,
    accepted: dict[str, Any],
    wait: bool,
    timeout: float,
    as_json: bool,
) -> None:
    op = accepted["operation"]
    if not wait:
        if as_json:
            _print_json(accepted)
        else:
            typer.echo(f"{op['kind']} of {accepted['site']} accepted: operation {op['id']}")
            _print_admin(accepted)
        return
    final = follow(client, op["id"], timeout, Console(stderr=True) if as_json else console)
    site = client.get(f"/v1/sites/{accepted['site']}")
    if as_json:
        _print_json({"operation": final, "site": site, "admin": accepted.get("admin")})
    target = TARGET[final["kind"]]
    if final["status"] != "SUCCEEDED" or site["status"] != target:
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
    idempotency_key: Annotated[str | None, typer.Option(help="Idempotency-Key header")] = None,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 300.0,
    as_json: JsonOpt = False,
) -> None:
    """Create a site."""
    body = {"name": name, "type": type, "runtime": runtime, "admin_email": admin_email}
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}

    def go(client: ApiClient) -> None:
        accepted = client.request("POST", "/v1/sites", json=body, headers=headers)
        _finish(ctx, client, accepted, wait, timeout, as_json)

    _run(ctx, go)


@site_app.command("list")
def site_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="only sites in this status")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List sites (all pages)."""

    def go(client: ApiClient) -> None:
        items: list[dict[str, Any]] = []
        after = None
        while True:
            page = client.get("/v1/sites", status=status, after=after, limit=500)
            items += page["items"]
            after = page["next"]
            if not after:
                break
        if as_json:
            _print_json(items)
            return
        table = Table("name", "type", "runtime", "status", "updated")
        for s in items:
            table.add_row(s["name"], s["type"], s["runtime"], s["status"], s["updated_at"])
        console.print(table)

    _run(ctx, go)


@site_app.command("show")
def site_show(ctx: typer.Context, name: str, as_json: JsonOpt = False) -> None:
    """Show one site: status, domains, last error, recent events."""

    def go(client: ApiClient) -> None:
        site = client.get(f"/v1/sites/{name}")
        if as_json:
            _print_json(site)
            return
        console.print(
            f"[bold]{site['name']}[/] ({site['type']}, {site['runtime']}) "
            f"{site['status']} — http://{site['hostname']}/"
        )
        if site["last_error"]:
            console.print(f"[red]last error:[/] {site['last_error']}")
        for d in site["domains"]:
            console.print(f"  domain {_domain_line(d)}", markup=False, highlight=False)
        for e in site["events"][:10]:
            console.print(
                f"  {e['at']} {e['from_status'] or '-'} → {e['to_status']}: {e['reason']}"
            )

    _run(ctx, go)


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
        _finish(ctx, client, accepted, wait, timeout, as_json)

    _run(ctx, go)


@site_app.command("retry")
def site_retry(
    ctx: typer.Context,
    name: str,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 300.0,
    as_json: JsonOpt = False,
) -> None:
    """Run a FAILED site's last operation again."""

    def go(client: ApiClient) -> None:
        accepted = client.post(f"/v1/sites/{name}/retry")
        _finish(ctx, client, accepted, wait, timeout, as_json)

    _run(ctx, go)


# --- operations, audit, edge -----------------------------------------------


def _certificate_text(cert: dict[str, Any] | None) -> str:
    return f"{cert['source']} until {(cert['not_after'] or '?')[:10]}" if cert else ""


def _domain_line(d: dict[str, Any]) -> str:
    name = d["name"] if d["display"] == d["name"] else f"{d['display']} ({d['name']})"
    parts = [name, d["status"]]
    if d.get("certificate"):
        parts.append(f"certificate {_certificate_text(d['certificate'])}")
    if d.get("last_checked_at"):
        parts.append(f"checked {d['last_checked_at'][:19]}")
    if d.get("last_error"):
        parts.append(f"— {d['last_error']}")
    return " ".join(parts)


def _finish_domain(
    client: ApiClient, accepted: dict[str, Any], wait: bool, timeout: float, as_json: bool
) -> None:
    domain, op = accepted["domain"], accepted["operation"]
    if op is None or not wait:
        if as_json:
            _print_json(accepted)
        elif op is None:
            typer.echo(f"nothing to do: {_domain_line(domain)}")
        else:
            typer.echo(f"{op['kind']} of {domain['name']} accepted: operation {op['id']}")
        return
    final = follow(client, op["id"], timeout, Console(stderr=True) if as_json else console)
    view = client.get(f"/v1/sites/{domain['site']}/domains/{quote(domain['name'], safe='')}")
    if as_json:
        _print_json({"operation": final, "domain": view})
    if final["status"] != "SUCCEEDED":
        fail(f"domain {view['name']} is {view['status']}: {final['error'] or view['last_error']}")
    if not as_json:
        console.print(_domain_line(view), markup=False, highlight=False)


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
        _finish_domain(client, accepted, wait, timeout, as_json)

    _run(ctx, go)


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
        _finish_domain(client, accepted, wait, timeout, as_json)

    _run(ctx, go)


@domain_app.command("certificate")
def domain_certificate(
    ctx: typer.Context,
    site: str,
    domain: str,
    cert: Annotated[Path, typer.Option("--cert", help="PEM file: certificate, then chain")],
    key: Annotated[Path, typer.Option("--key", help="PEM file: its private key")],
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 120.0,
    as_json: JsonOpt = False,
) -> None:
    """Install your own certificate for DOMAIN (instead of one from ACME)."""
    try:
        body = {"certificate": cert.read_text(), "key": key.read_text()}
    except OSError as exc:
        fail(f"cannot read {exc.filename}: {exc.strerror}")

    def go(client: ApiClient) -> None:
        path = f"/v1/sites/{site}/domains/{quote(domain, safe='')}/certificate"
        accepted = client.request("PUT", path, json=body)
        _finish_domain(client, accepted, wait, timeout, as_json)

    _run(ctx, go)


@domain_app.command("list")
def domain_list(ctx: typer.Context, site: str, as_json: JsonOpt = False) -> None:
    """List SITE's domains with their state, last DNS check and error."""

    def go(client: ApiClient) -> None:
        items = client.get(f"/v1/sites/{site}/domains")["items"]
        if as_json:
            _print_json(items)
            return
        table = Table("domain", "status", "certificate", "last check", "error")
        for d in items:
            table.add_row(
                d["display"],
                d["status"],
                _certificate_text(d["certificate"]),
                (d["last_checked_at"] or "")[:19],
                d["last_error"] or "",
            )
        console.print(table)

    _run(ctx, go)


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
            _print_json(view)
        else:
            typer.echo(f"{view['display']} ({view['domain']}): {view['explanation']}")
        if not view["ok"]:
            raise typer.Exit(1)

    _run(ctx, go)


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


# --- reconciler --------------------------------------------------------------

SYMBOL = {"missing": "+", "drifted": "~", "orphaned": "-"}


def _print_plan(findings: list[dict[str, Any]], *, heading: str, done: bool) -> None:
    if not findings:
        typer.echo("No drift: the infrastructure matches the database.")
        return
    typer.echo(heading + "\n")
    for f in findings:
        site = f" (site {f['site']})" if f["site"] else ""
        action = f["action"] if f["action"] != "prune" else "prune (only with --prune)"
        result = f" = {f['result']}" if done and f.get("result") else ""
        typer.echo(f"  {SYMBOL[f['kind']]} {f['resource']}{site}: {f['detail']} → {action}{result}")
    tally = {k: sum(1 for f in findings if f["kind"] == k) for k in SYMBOL}
    typer.echo(
        f"\nPlan: {tally['missing']} to recreate, {tally['drifted']} to repair, "
        f"{tally['orphaned']} orphaned."
    )


@app.command()
def drift(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Show what differs between the database and the real infrastructure, like a plan;
    changes nothing."""

    def go(client: ApiClient) -> None:
        view = client.get("/v1/drift")
        if as_json:
            _print_json(view["findings"])
            return
        for provider, why in view["unreachable"].items():
            typer.echo(f"! {provider} could not be observed: {why}")
        _print_plan(view["findings"], heading="Hostplane would perform these actions:", done=False)

    _run(ctx, go)


@app.command()
def reconcile(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="find, change nothing")] = False,
    prune: Annotated[bool, typer.Option("--prune", help="also remove orphans")] = False,
    timeout: TimeoutOpt = 600.0,
    as_json: JsonOpt = False,
) -> None:
    """Run a reconcile now and wait for it: safe drifts repaired, orphans reported (removed
    with --prune, each audited)."""

    def go(client: ApiClient) -> None:
        op = client.request("POST", "/v1/reconcile", json={"dry_run": dry_run, "prune": prune})
        final = follow(client, op["id"], timeout, Console(stderr=True) if as_json else console)
        run = client.get(f"/v1/reconcile/runs/{op['id']}")
        if as_json:
            _print_json(run["findings"])
        else:
            heading = "Found (dry run, nothing changed):" if dry_run else "Found and did:"
            _print_plan(run["findings"], heading=heading, done=not dry_run)
            typer.echo(f"{run['repairs']} repaired in {run['duration_ms']:.0f} ms")
        for error in run["errors"]:
            typer.echo(f"error: {error}", err=True)
        if final["status"] != "SUCCEEDED":
            raise typer.Exit(1)

    _run(ctx, go)


@app.command()
def doctor(ctx: typer.Context) -> None:
    """Check the control plane's own dependencies, one line each; exit 1 if one a live
    site needs is broken."""
    from hostplane.cli.doctor import run_checks

    failed = False
    for check in run_checks(ctx.obj):
        mark = "ok  " if check.ok else ("FAIL" if check.required else "warn")
        failed |= not check.ok and check.required
        typer.echo(f"{mark} {check.name}: {check.message}")
    if failed:
        raise typer.Exit(1)


@op_app.command("show")
def op_show(ctx: typer.Context, operation_id: str, as_json: JsonOpt = False) -> None:
    """Show an operation with its steps and timings."""

    def go(client: ApiClient) -> None:
        op = client.get(f"/v1/operations/{operation_id}")
        if as_json:
            _print_json(op)
            return
        from hostplane.cli.follow import _table

        console.print(_table(op))
        if op["error"]:
            console.print(f"[red]error:[/] {op['error']}")

    _run(ctx, go)


@app.command()
def audit(
    ctx: typer.Context,
    target: Annotated[str | None, typer.Option(help="only this site")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Show the audit log, newest first."""

    def go(client: ApiClient) -> None:
        page = client.get("/v1/audit", target=target, limit=limit)
        if as_json:
            _print_json(page["items"])
            return
        table = Table("at", "actor", "action", "target", "decision", "reason")
        for a in page["items"]:
            table.add_row(a["at"], a["actor"], a["action"], a["target"], a["decision"], a["reason"])
        console.print(table)

    _run(ctx, go)


@app.command()
def regenerate(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Rebuild the edge config from the database alone and load it."""

    def go(client: ApiClient) -> None:
        result = client.post("/v1/edge/regenerate")
        if as_json:
            _print_json(result)
        else:
            typer.echo(f"edge {result['outcome']}: {result['routes']} routes")

    _run(ctx, go)
