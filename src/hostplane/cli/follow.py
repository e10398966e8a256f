"""Follow an operation to its end with a live display of its steps."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from hostplane.cli.client import ApiClient, CliError

FINAL = frozenset({"SUCCEEDED", "FAILED"})
MARK = {"running": "[yellow]…[/]", "succeeded": "[green]✓[/]", "failed": "[red]✗[/]"}


def step_table(op: dict[str, Any]) -> Table:
    table = Table(title=f"{op['kind']} {op['target']} — {op['status']}", title_justify="left")
    for column in ("", "step", "phase", "outcome", "ms", "detail"):
        table.add_column(column)
    for step in op["steps"]:
        ms = step["elapsed_ms"]
        table.add_row(
            MARK.get(step["status"], step["status"]),
            step["name"],
            step["phase"],
            step["outcome"] or "",
            f"{ms:.0f}" if ms is not None else "",
            (step["detail"] or "")[:80],
        )
    return table


def follow(
    client: ApiClient, operation_id: str, timeout: float, console: Console
) -> dict[str, Any]:
    """Poll until the operation ends; returns its last view."""
    deadline = time.monotonic() + timeout
    op: dict[str, Any] = client.get(f"/v1/operations/{operation_id}")
    with Live(step_table(op), console=console, refresh_per_second=8, transient=False) as live:
        while op["status"] not in FINAL:
            if time.monotonic() > deadline:
                raise CliError(
                    f"operation {operation_id} still {op['status']} after {timeout:.0f}s; "
                    f"follow it with: hostctl op show {operation_id}"
                )
            op = client.get(f"/v1/operations/{operation_id}", wait=0.2)  # or once it ends
            live.update(step_table(op))
    return op


def wait_quietly(client: ApiClient, operation_id: str, timeout: float) -> dict[str, Any]:
    """Until the operation ends, showing nothing (the plane answers as soon as it has ended);
    returns its last view."""
    deadline = time.monotonic() + timeout
    op: dict[str, Any] = client.get(f"/v1/operations/{operation_id}")
    while op["status"] not in FINAL:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CliError(
                f"operation {operation_id} still {op['status']} after {timeout:.0f}s; "
                f"follow it with: hostctl op show {operation_id}"
            )
        op = client.get(f"/v1/operations/{operation_id}", wait=round(min(remaining, 20), 3))
    return op
