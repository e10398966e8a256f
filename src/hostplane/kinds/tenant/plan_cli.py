"""hostctl plan …, and the `plans` section of hostctl apply."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer
from rich.table import Table

from hostplane.cli.declare import Action, Field, Get, Item, Problem, Section
from hostplane.cli.output import JsonOpt, console, print_json, run
from hostplane.kinds.tenant.model import LIMIT_MAX, validate_plan_name

plan_app = typer.Typer(no_args_is_help=True, help="Plans: the limits of tenants.")


def _plan_body(
    name: str,
    sites: int,
    databases: int,
    caches: int,
    disk_mb: int,
    php_workers: int,
    zones: int,
    cache_memory_mb: int,
) -> dict[str, Any]:
    return {
        "name": name,
        "sites": sites,
        "databases": databases,
        "caches": caches,
        "disk_mb": disk_mb,
        "php_workers": php_workers,
        "zones": zones,
        "cache_memory_mb": cache_memory_mb,
    }


@plan_app.command("create")
def plan_create(
    ctx: typer.Context,
    name: str,
    sites: Annotated[int, typer.Option("--sites", min=0)],
    databases: Annotated[int, typer.Option("--databases", min=0)],
    caches: Annotated[int, typer.Option("--caches", min=0)],
    disk_mb: Annotated[int, typer.Option("--disk-mb", min=0)],
    php_workers: Annotated[int, typer.Option("--php-workers", min=1, max=200)],
    zones: Annotated[int, typer.Option("--zones", min=0)],
    cache_memory_mb: Annotated[
        int, typer.Option("--cache-memory-mb", min=0, help="all its caches' memory_mb together")
    ],
    update: Annotated[bool, typer.Option(help="change an existing plan's limits")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a plan (or, with --update, change one)."""
    body = _plan_body(name, sites, databases, caches, disk_mb, php_workers, zones, cache_memory_mb)
    plan = run(
        ctx,
        lambda c: (
            c.request("PUT", f"/v1/plans/{name}", json=body)
            if update
            else c.post("/v1/plans", body)
        ),
    )
    print_json(plan) if as_json else typer.echo(f"plan {plan['name']} saved")


@plan_app.command("list")
def plan_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    plans = run(ctx, lambda c: c.get("/v1/plans"))["items"]
    if as_json:
        print_json(plans)
        return
    table = Table(
        "name",
        "sites",
        "databases",
        "caches",
        "disk MB",
        "PHP workers",
        "zones",
        "cache MB",
        "tenants",
    )
    for p in plans:
        table.add_row(
            *(
                str(p[k])
                for k in (
                    "name",
                    "sites",
                    "databases",
                    "caches",
                    "disk_mb",
                    "php_workers",
                    "zones",
                    "cache_memory_mb",
                    "tenants",
                )
            )
        )
    console.print(table)


@plan_app.command("assign")
def plan_assign(ctx: typer.Context, tenant: str, plan: str) -> None:
    """Move a tenant to a plan."""
    run(ctx, lambda c: c.request("PUT", f"/v1/tenants/{tenant}/plan", json={"plan": plan}))
    typer.echo(f"tenant {tenant} is on plan {plan}")


# --- hostctl apply: the `plans` section ------------------------------------------------

LIMIT_FIELDS = (
    "sites",
    "databases",
    "caches",
    "disk_mb",
    "php_workers",
    "zones",
    "cache_memory_mb",
)


def _observe_plan(get: Get, item: Item) -> dict[str, Any] | None:
    plans = get("/v1/plans") or {"items": []}
    return next((p for p in plans["items"] if p["name"] == item.name), None)


def _diff_plan(item: Item, current: Mapping[str, Any] | None) -> list[Action | Problem]:
    body = {"name": item.name, **{k: item.value(k) for k in LIMIT_FIELDS}}
    if current is None:
        return [Action(f"create plan {item.name}", "POST", "/v1/plans", body, item.line, False)]
    changed = [f"{k} {current[k]} -> {body[k]}" for k in LIMIT_FIELDS if current[k] != body[k]]
    if not changed:
        return []
    summary = f"update plan {item.name}: {', '.join(changed)}"
    return [Action(summary, "PUT", f"/v1/plans/{item.name}", body, item.line, False)]


def _limit(name: str, minimum: int = 0, maximum: int = LIMIT_MAX) -> Field:
    return Field(name, int, required=True, minimum=minimum, maximum=maximum)


PLANS = Section(
    key="plans",
    noun="plan",
    fields=(
        Field("name", required=True, check=validate_plan_name),
        _limit("sites"),
        _limit("databases"),
        _limit("caches"),
        _limit("disk_mb"),
        _limit("php_workers", 1, 200),
        _limit("zones"),
        _limit("cache_memory_mb"),
    ),
    observe=_observe_plan,
    diff=_diff_plan,
)
