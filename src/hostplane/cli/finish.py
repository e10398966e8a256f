"""What a kind's CLI does with an accepted request: print it, or follow its operation to its
end with --wait (exit 1 unless it succeeded)."""

from __future__ import annotations

from typing import Any

from hostplane.cli.client import ApiClient, fail
from hostplane.cli.follow import follow
from hostplane.cli.output import console, follow_console, print_json


def say(text: str) -> None:
    """A line as it is (no rich markup: names and errors may hold brackets)."""
    console.print(text, markup=False, highlight=False)


def finish(
    client: ApiClient,
    accepted: dict[str, Any],
    subject: str,
    wait: bool,
    timeout: float,
    as_json: bool,
) -> dict[str, Any] | None:
    """The operation of `accepted` (a request about `subject`) followed to its end with
    `wait`; its final view, or None without `wait`."""
    op = accepted["operation"]
    if not wait:
        if as_json:
            print_json(accepted)
        else:
            say(f"{op['kind']} of {subject} accepted: operation {op['id']}")
        return None
    final = follow(client, op["id"], timeout, follow_console(as_json))
    if as_json:
        print_json({**accepted, "operation": final})
    if final["status"] != "SUCCEEDED":
        fail(f"{op['kind']} of {subject} {final['status']}: {final['error']}")
    return final
