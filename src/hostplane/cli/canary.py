"""`hostctl canary`: prove tenant isolation on the live platform. Two throw-away tenants of
its own get resources of every kind that contributes a canary (a kind's `canary` module,
`probes(canary)`); each probe attacks one tenant's resources with the other's credentials and
says whether isolation held. The tenants are deleted, with what they own, at the end. Exit 1
when any probe found a leak (or the canary could not set itself up)."""

from __future__ import annotations

import importlib
import importlib.util
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from hostplane.cli.client import ApiClient, CliError, fail
from hostplane.cli.isolation import Canary, Probe, tenant_names
from hostplane.cli.output import JsonOpt, client, console
from hostplane.registry import KINDS

KindProbes = Callable[[Canary], Iterator[Probe]]


def contributed() -> list[KindProbes]:
    """Every kind's `canary.probes`, parents first."""
    found = []
    for package in KINDS:
        if importlib.util.find_spec(f"{package}.canary") is not None:
            found.append(importlib.import_module(f"{package}.canary").probes)
    return found


def run_canary(api: ApiClient, kinds: list[KindProbes]) -> list[Probe]:
    canary = Canary(api, tenant_names())
    made = []
    try:
        for tenant in canary.tenants:
            canary.done("POST", "/v1/tenants", {"name": tenant})
            made.append(tenant)
        return [probe for probes in kinds for probe in probes(canary)]
    finally:
        for tenant in made:
            canary.done("DELETE", f"/v1/tenants/{tenant}?cascade=true")


def install(app: typer.Typer) -> None:
    app.command("canary")(canary_command)


def canary_command(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="Only this kind's probes (repeatable).")
    ] = None,
) -> None:
    """Attack one throw-away tenant's databases and caches from another's; exit 1 on a leak."""
    api = client(ctx)
    kinds = [p for p in contributed() if not kind or p.__module__.split(".")[-2] in set(kind)]
    if not kinds:
        fail(f"no canary probes for kind {', '.join(kind or [])}")
    try:
        found = run_canary(api, kinds)
    except CliError as exc:
        fail(f"canary could not run: {exc}")
    leaks = [p for p in found if not p.held]
    if as_json:
        typer.echo(json.dumps([asdict(p) for p in found], indent=2))
    else:
        table = Table(title=f"isolation canary: {len(found) - len(leaks)}/{len(found)} held")
        for column in ("", "kind", "probe", "detail"):
            table.add_column(column)
        for p in found:
            table.add_row("✓" if p.held else "✗ LEAK", p.kind, p.name, p.detail)
        console.print(table)
    if leaks:
        fail(f"{len(leaks)} probe(s) found a leak: {', '.join(p.name for p in leaks)}")
