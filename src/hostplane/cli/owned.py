"""What the commands of a tenant's resources (caches, databases) share where they differ only
by kind: a list as a table, a resource's events, its reassign and a user's delete. Each kind's
command keeps its own name, arguments and help; `kind` is the accepted answer's key and, with
an s, the API's collection (`/v1/caches`, `/v1/databases`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import typer
from rich.table import Table

from hostplane.cli.client import ApiClient
from hostplane.cli.finish import finish, say
from hostplane.cli.output import console, print_json, run

Row = Callable[[dict[str, Any]], Sequence[str]]


def listed(ctx: typer.Context, path: str, as_json: bool, columns: Sequence[str], row: Row) -> None:
    """The items at `path`: as JSON, or a table of `columns` with a `row` for each."""

    def go(client: ApiClient) -> None:
        items = client.get(path)["items"]
        if as_json:
            print_json(items)
            return
        table = Table(*columns)
        for item in items:
            table.add_row(*row(item))
        console.print(table)

    run(ctx, go)


def say_events(view: dict[str, Any]) -> None:
    """The last ten status changes of a resource's view."""
    for e in view["events"][:10]:
        say(f"  {e['at']} {e['from_status'] or '-'} → {e['to_status']}: {e['reason']}")


def reassign(
    ctx: typer.Context,
    kind: str,
    name: str,
    tenant: str,
    wait: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Move `name` to `tenant`; the new name it gets is printed (followed with `wait`)."""

    def go(client: ApiClient) -> None:
        accepted = client.post(f"/v1/{kind}s/{name}/reassign", {"tenant": tenant})
        if finish(client, accepted, accepted[kind], wait, timeout, as_json) and not as_json:
            say(f"{kind} {name} is now {accepted['to']} of tenant {tenant}")
        elif not wait and not as_json:
            say(f"it becomes {accepted['to']}")

    run(ctx, go)


def delete_user(
    ctx: typer.Context,
    kind: str,
    name: str,
    user: str,
    wait: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Delete `user` of `name` (the user's name as it was created)."""

    def go(client: ApiClient) -> None:
        accepted = client.delete(f"/v1/{kind}s/{name}/users/{user}")
        if finish(client, accepted, accepted[kind], wait, timeout, as_json) and not as_json:
            say(f"user {user} of {name} is DELETED")

    run(ctx, go)
