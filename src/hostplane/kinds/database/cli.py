"""hostctl database …, hostctl database user …: a tenant's MariaDB databases and users."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from hostplane.cli.client import ApiClient, fail
from hostplane.cli.finish import finish, say
from hostplane.cli.output import JsonOpt, TimeoutOpt, WaitOpt, print_json, run
from hostplane.cli.owned import delete_user, listed, reassign, say_events

database_app = typer.Typer(no_args_is_help=True, help="A tenant's MariaDB databases.")
user_app = typer.Typer(no_args_is_help=True, help="A database's users (MariaDB accounts).")
database_app.add_typer(user_app, name="user")
TenantOpt = Annotated[str, typer.Option("--tenant", help="the tenant that owns it")]
PasswordStdinOpt = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="your own password, read from the first line of stdin (checked for strength)",
    ),
]


def install(app: typer.Typer) -> None:
    app.add_typer(database_app, name="database")


@database_app.command("create")
def database_create(
    ctx: typer.Context,
    name: str,
    tenant: TenantOpt,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 120.0,
    as_json: JsonOpt = False,
) -> None:
    """Create a database of TENANT (its MariaDB name is printed: tdb_…)."""

    def go(client: ApiClient) -> None:
        accepted = client.post(f"/v1/tenants/{tenant}/databases", {"name": name})
        if finish(client, accepted, accepted["database"], wait, timeout, as_json) and not as_json:
            say(f"database {accepted['database']} is ACTIVE")

    run(ctx, go)


@database_app.command("list")
def database_list(ctx: typer.Context, tenant: TenantOpt, as_json: JsonOpt = False) -> None:
    """The tenant's databases."""
    columns = ("database", "name", "tenant", "site", "status")
    listed(ctx, f"/v1/tenants/{tenant}/databases", as_json, columns, _database_row)


def _database_row(d: dict[str, Any]) -> list[str]:
    return [d["name"], d["label"], d["tenant"], d.get("site") or "", d["status"]]


@database_app.command("show")
def database_show(ctx: typer.Context, database: str, as_json: JsonOpt = False) -> None:
    """Status, connection details, users (never a password), events."""

    def go(client: ApiClient) -> None:
        d = client.get(f"/v1/databases/{database}")
        if as_json:
            print_json(d)
            return
        c = d["connection"]
        of_site = f", the database of site {d['site']}" if d.get("site") else ""
        say(f"{d['name']} ({d['label']}) {d['status']} — tenant {d['tenant']}{of_site}")
        say(f"  connect: socket {c['socket']}, or host {c['host']} port {c['port']}")
        if d["last_error"]:
            say(f"last error: {d['last_error']}")
        for u in d["users"]:
            say(f"  user {u['user']} ({u['name']}): {u['privileges']}, {u['status']}")
        say_events(d)

    run(ctx, go)


@database_app.command("delete")
def database_delete(
    ctx: typer.Context,
    database: str,
    backup: Annotated[
        bool, typer.Option("--backup", help="first a gzipped dump into the tenant's private/")
    ] = False,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 600.0,
    as_json: JsonOpt = False,
) -> None:
    """Drop a database and its users (audited), with --backup after dumping it."""

    def go(client: ApiClient) -> None:
        accepted = client.delete(
            f"/v1/databases/{database}", **({"backup": "true"} if backup else {})
        )
        if accepted.get("backup") and not as_json:
            say(f"dump: {accepted['backup']} (in the tenant's home)")
        if finish(client, accepted, accepted["database"], wait, timeout, as_json) and not as_json:
            say(f"database {database} is DELETED")

    run(ctx, go)


@database_app.command("reassign")
def database_reassign(
    ctx: typer.Context,
    database: str,
    tenant: Annotated[str, typer.Option("--to", help="the tenant it moves to")],
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 300.0,
    as_json: JsonOpt = False,
) -> None:
    """Move DATABASE to another tenant: a new MariaDB name (printed), its tables moved, the
    old tenant's users dropped."""
    reassign(ctx, "database", database, tenant, wait, timeout, as_json)


@user_app.command("create")
def user_create(
    ctx: typer.Context,
    database: str,
    name: str,
    privileges: Annotated[str, typer.Option(help="all, or read (SELECT, SHOW VIEW)")] = "all",
    password_stdin: PasswordStdinOpt = False,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 120.0,
    as_json: JsonOpt = False,
) -> None:
    """An account granted on exactly DATABASE; a random password is printed this once."""
    body: dict[str, Any] = {"name": name, "privileges": privileges}
    if password_stdin:
        body["password"] = _read_password()

    def go(client: ApiClient) -> None:
        accepted = client.post(f"/v1/databases/{database}/users", body)
        _user_answer(client, accepted, database, wait, timeout, as_json)

    run(ctx, go)


def _read_password() -> str:
    line = sys.stdin.readline().rstrip("\n")
    if not line:
        fail("--password-stdin: no password on stdin")
    return line


def _user_answer(
    client: ApiClient,
    accepted: dict[str, Any],
    database: str,
    wait: bool,
    timeout: float,
    as_json: bool,
) -> None:
    if as_json and not wait:
        print_json(accepted)
        return
    if not as_json:
        c = accepted["connection"]
        say(f"user {accepted['user']} on {database} (socket {c['socket']}, port {c['port']})")
        if accepted["password"]:
            say(f"password (shown once): {accepted['password']}")
    finish(client, accepted, accepted["database"], wait, timeout, as_json)


@user_app.command("update")
def user_update(
    ctx: typer.Context,
    database: str,
    name: str,
    privileges: Annotated[str | None, typer.Option(help="all, or read (SELECT, SHOW VIEW)")] = None,
    rotate_password: Annotated[
        bool, typer.Option("--rotate-password", help="a new random password, printed once")
    ] = False,
    password_stdin: PasswordStdinOpt = False,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 120.0,
    as_json: JsonOpt = False,
) -> None:
    """Change a user's privileges and/or password (NAME: the name it was created with)."""
    body: dict[str, Any] = {"rotate_password": rotate_password}
    if privileges is not None:
        body["privileges"] = privileges
    if password_stdin:
        body["password"] = _read_password()

    def go(client: ApiClient) -> None:
        accepted = client.put(f"/v1/databases/{database}/users/{name}", body)
        _user_answer(client, accepted, database, wait, timeout, as_json)

    run(ctx, go)


@user_app.command("delete")
def user_delete(
    ctx: typer.Context,
    database: str,
    name: str,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 120.0,
    as_json: JsonOpt = False,
) -> None:
    """Drop a database's user (NAME: the name it was created with)."""
    delete_user(ctx, "database", database, name, wait, timeout, as_json)
