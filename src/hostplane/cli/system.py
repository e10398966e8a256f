"""hostctl drift, reconcile, doctor, op show, audit: the commands about the whole plane."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from hostplane.cli.client import ApiClient
from hostplane.cli.follow import follow, step_table
from hostplane.cli.output import JsonOpt, TimeoutOpt, console, follow_console, print_json, run

op_app = typer.Typer(no_args_is_help=True, help="Inspect operations.")


def install(app: typer.Typer) -> None:
    app.add_typer(op_app, name="op")
    for command in (drift, reconcile, doctor, audit):
        app.command()(command)


SYMBOL = {"missing": "+", "drifted": "~", "orphaned": "-", "lost": "!"}


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
        f"{tally['orphaned']} orphaned, {tally['lost']} lost (the operator decides)."
    )


def drift(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Show what differs between the database and the real infrastructure, like a plan;
    changes nothing."""

    def go(client: ApiClient) -> None:
        view = client.get("/v1/drift")
        if as_json:
            print_json(view["findings"])
            return
        for provider, why in view["unreachable"].items():
            typer.echo(f"! {provider} could not be observed: {why}")
        _print_plan(view["findings"], heading="Hostplane would perform these actions:", done=False)

    run(ctx, go)


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
        final = follow(client, op["id"], timeout, follow_console(as_json))
        run = client.get(f"/v1/reconcile/runs/{op['id']}")
        if as_json:
            print_json(run["findings"])
        else:
            heading = "Found (dry run, nothing changed):" if dry_run else "Found and did:"
            _print_plan(run["findings"], heading=heading, done=not dry_run)
            typer.echo(f"{run['repairs']} repaired in {run['duration_ms']:.0f} ms")
        for error in run["errors"]:
            typer.echo(f"error: {error}", err=True)
        if final["status"] != "SUCCEEDED":
            raise typer.Exit(1)

    run(ctx, go)


def doctor(ctx: typer.Context) -> None:
    """Check the control plane's own dependencies, one line each; exit 1 if one a live
    site needs is broken."""
    from hostplane.cli.doctor import run_checks

    failed = False
    for check in run_checks(ctx.obj):
        failed |= not check.ok and check.required
        typer.echo(f"{check.mark} {check.name}: {check.message}")
    if failed:
        raise typer.Exit(1)


@op_app.command("show")
def op_show(ctx: typer.Context, operation_id: str, as_json: JsonOpt = False) -> None:
    """Show an operation with its steps and timings."""

    def go(client: ApiClient) -> None:
        op = client.get(f"/v1/operations/{operation_id}")
        if as_json:
            print_json(op)
            return
        console.print(step_table(op))
        if op["error"]:
            console.print(f"[red]error:[/] {op['error']}")

    run(ctx, go)


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
            print_json(page["items"])
            return
        table = Table("at", "actor", "action", "target", "decision", "reason")
        for a in page["items"]:
            table.add_row(a["at"], a["actor"], a["action"], a["target"], a["decision"], a["reason"])
        console.print(table)

    run(ctx, go)
