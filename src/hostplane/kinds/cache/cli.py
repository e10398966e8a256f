"""hostctl cache …, hostctl cache user …: a tenant's Redis caches and their ACL users."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from hostplane.cli.client import ApiClient
from hostplane.cli.finish import finish, say
from hostplane.cli.output import JsonOpt, TimeoutOpt, WaitOpt, print_json, run
from hostplane.cli.owned import delete_user, listed, reassign, say_events

cache_app = typer.Typer(no_args_is_help=True, help="A tenant's caches (Redis instances).")
user_app = typer.Typer(no_args_is_help=True, help="A cache's users (Redis ACL users).")
cache_app.add_typer(user_app, name="user")
TenantOpt = Annotated[str, typer.Option("--tenant", help="the tenant that owns it")]


def install(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")


@cache_app.command("create")
def cache_create(
    ctx: typer.Context,
    name: str,
    tenant: TenantOpt,
    memory_mb: Annotated[int, typer.Option("--memory-mb", help="its maxmemory in MB")] = 64,
    persistence: Annotated[str, typer.Option(help="none, or aof (kept across restarts)")] = "none",
    tcp: Annotated[
        bool,
        typer.Option(
            "--tcp",
            help="also a port on 127.0.0.1 (any local user reaches it: the ACL passwords are "
            "then the only barrier)",
        ),
    ] = False,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 120.0,
    as_json: JsonOpt = False,
) -> None:
    """Create a cache of TENANT (its instance name is printed: tc-…)."""

    def go(client: ApiClient) -> None:
        body = {"name": name, "memory_mb": memory_mb, "persistence": persistence, "tcp": tcp}
        accepted = client.post(f"/v1/tenants/{tenant}/caches", body)
        if finish(client, accepted, accepted["cache"], wait, timeout, as_json) and not as_json:
            say(f"cache {accepted['cache']} is ACTIVE")

    run(ctx, go)


@cache_app.command("list")
def cache_list(ctx: typer.Context, tenant: TenantOpt, as_json: JsonOpt = False) -> None:
    """The tenant's caches."""
    columns = ("cache", "name", "tenant", "memory", "persistence", "status")
    listed(ctx, f"/v1/tenants/{tenant}/caches", as_json, columns, _cache_row)


def _cache_row(c: dict[str, Any]) -> list[str]:
    memory = f"{c['memory_mb']} MB"
    return [c["name"], c["label"], c["tenant"], memory, c["persistence"], c["status"]]


@cache_app.command("show")
def cache_show(ctx: typer.Context, cache: str, as_json: JsonOpt = False) -> None:
    """Status, its socket, users (never a password), events."""

    def go(client: ApiClient) -> None:
        c = client.get(f"/v1/caches/{cache}")
        if as_json:
            print_json(c)
            return
        say(f"{c['name']} ({c['label']}) {c['status']} — tenant {c['tenant']}")
        say(f"  {c['memory_mb']} MB, persistence {c['persistence']}")
        say(f"  connect: socket {c['connection']['socket']}")
        if c["port"]:
            say(f"  and 127.0.0.1:{c['port']} (any local user reaches it: passwords guard it)")
        if c["last_error"]:
            say(f"last error: {c['last_error']}")
        for u in c["users"]:
            say(f"  user {u['name']}: keys {u['key_prefix']}*, {u['status']}")
        say_events(c)

    run(ctx, go)


@cache_app.command("delete")
def cache_delete(
    ctx: typer.Context,
    cache: str,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 120.0,
    as_json: JsonOpt = False,
) -> None:
    """Stop a cache and remove it with its users (audited)."""

    def go(client: ApiClient) -> None:
        accepted = client.delete(f"/v1/caches/{cache}")
        if finish(client, accepted, accepted["cache"], wait, timeout, as_json) and not as_json:
            say(f"cache {cache} is DELETED")

    run(ctx, go)


@cache_app.command("reassign")
def cache_reassign(
    ctx: typer.Context,
    cache: str,
    tenant: Annotated[str, typer.Option("--to", help="the tenant it moves to")],
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 120.0,
    as_json: JsonOpt = False,
) -> None:
    """Move CACHE to another tenant (operator only): a new instance name (printed), its data
    kept, the old tenant's users deleted and their connections cut."""
    reassign(ctx, "cache", cache, tenant, wait, timeout, as_json)


@user_app.command("create")
def user_create(
    ctx: typer.Context,
    cache: str,
    name: str,
    key_prefix: Annotated[str, typer.Option("--key-prefix", help="the only keys it may touch")],
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 120.0,
    as_json: JsonOpt = False,
) -> None:
    """An ACL user of CACHE allowed only KEY_PREFIX*; its password is printed this once."""

    def go(client: ApiClient) -> None:
        body = {"name": name, "key_prefix": key_prefix}
        accepted = client.post(f"/v1/caches/{cache}/users", body)
        if as_json and not wait:
            print_json(accepted)
            return
        if not as_json:
            c = accepted["connection"]
            say(f"user {accepted['user']} of {cache}: keys {key_prefix}*, socket {c['socket']}")
            say(f"password (shown once): {accepted['password']}")
        finish(client, accepted, accepted["cache"], wait, timeout, as_json)

    run(ctx, go)


@user_app.command("list")
def user_list(ctx: typer.Context, cache: str, as_json: JsonOpt = False) -> None:
    """The cache's users and how they connect (never a password)."""
    columns = ("user", "key prefix", "status", "socket")
    listed(ctx, f"/v1/caches/{cache}/users", as_json, columns, _user_row)


def _user_row(u: dict[str, Any]) -> list[str]:
    return [u["name"], u["key_prefix"], u["status"], u["connection"]["socket"]]


@user_app.command("rotate")
def user_rotate(
    ctx: typer.Context,
    cache: str,
    name: str,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 120.0,
    as_json: JsonOpt = False,
) -> None:
    """A new random password for a cache's user, printed once (the old one's sessions are cut
    once it is applied)."""

    def go(client: ApiClient) -> None:
        accepted = client.put(f"/v1/caches/{cache}/users/{name}", {"rotate_password": True})
        if as_json and not wait:
            print_json(accepted)
            return
        if not as_json:
            say(f"new password of {name} (shown once): {accepted['password']}")
        finish(client, accepted, accepted["cache"], wait, timeout, as_json)

    run(ctx, go)


@user_app.command("delete")
def user_delete(
    ctx: typer.Context,
    cache: str,
    name: str,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 120.0,
    as_json: JsonOpt = False,
) -> None:
    """Delete a cache's ACL user (its connections are cut)."""
    delete_user(ctx, "cache", cache, name, wait, timeout, as_json)
