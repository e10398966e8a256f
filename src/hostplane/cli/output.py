"""What every command shares: the API client from the context, one-line failures, JSON output,
the common options."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from hostplane.cli.client import ApiClient, CliError, fail

console = Console()
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
WaitOpt = Annotated[bool, typer.Option("--wait", help="Follow the operation to its end.")]
TimeoutOpt = Annotated[float, typer.Option(help="Seconds --wait waits at most.")]

T = TypeVar("T")


def client(ctx: typer.Context) -> ApiClient:
    try:
        return ApiClient(ctx.obj)
    except CliError as exc:
        fail(str(exc))


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True))


def run(ctx: typer.Context, fn: Callable[[ApiClient], T]) -> T:
    """Run `fn` with the API client; any API or connection error ends the command in one line."""
    try:
        return fn(client(ctx))
    except CliError as exc:
        fail(str(exc))


def follow_console(as_json: bool) -> Console:
    """Where the live step table goes: stderr when stdout carries JSON."""
    return Console(stderr=True) if as_json else console


def certificate_text(cert: dict[str, Any] | None) -> str:
    return f"{cert['source']} until {(cert['not_after'] or '?')[:10]}" if cert else ""


def resource_line(view: dict[str, Any]) -> str:
    """One line for a resource's view: its name (as people write it), its status, and what
    the view says beside (certificate, last check, last error) when it says it."""
    name = view.get("name", "?")
    if view.get("display") not in (None, name):
        name = f"{view['display']} ({name})"
    parts = [name, view.get("status", "")]
    if view.get("certificate"):
        parts.append(f"certificate {certificate_text(view['certificate'])}")
    if view.get("last_checked_at"):
        parts.append(f"checked {view['last_checked_at'][:19]}")
    if view.get("last_error"):
        parts.append(f"— {view['last_error']}")
    return " ".join(parts)
