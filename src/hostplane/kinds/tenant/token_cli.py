"""hostctl token …: API tokens scoped to one tenant."""

from __future__ import annotations

from typing import Annotated

import typer

from hostplane.cli.output import JsonOpt, print_json, run

token_app = typer.Typer(no_args_is_help=True, help="API tokens scoped to one tenant.")


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option("--tenant", help="the tenant it is scoped to")],
    name: Annotated[str, typer.Option(help="to tell it apart")] = "token",
    as_json: JsonOpt = False,
) -> None:
    """Issue a token that sees and changes only the tenant's resources; shown once."""
    token = run(ctx, lambda c: c.post("/v1/tokens", {"tenant": tenant, "name": name}))
    if as_json:
        print_json(token)
    else:
        typer.echo(f"token {token['id']} for tenant {tenant} (shown only now): {token['token']}")


@token_app.command("list")
def token_list(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option(help="only this tenant's")] = None,
    as_json: JsonOpt = False,
) -> None:
    tokens = run(ctx, lambda c: c.get("/v1/tokens", tenant=tenant))["items"]
    if as_json:
        print_json(tokens)
        return
    for t in tokens:
        state = f"revoked {t['revoked_at']}" if t["revoked_at"] else "active"
        typer.echo(f"{t['id']}  {t['tenant']}  {t['name']}  {t['prefix']}…  {state}")


@token_app.command("revoke")
def token_revoke(ctx: typer.Context, token_id: str) -> None:
    run(ctx, lambda c: c.delete(f"/v1/tokens/{token_id}"))
    typer.echo(f"token {token_id} revoked")
