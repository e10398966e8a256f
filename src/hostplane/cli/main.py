"""hostctl: run the control plane and drive it."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated

import pydantic
import typer

from hostplane.cli import apply, canary, system
from hostplane.cli.client import fail
from hostplane.errors import HostplaneError
from hostplane.registry import KINDS
from hostplane.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option(help="TOML settings file.")] = None,
) -> None:
    try:
        ctx.obj = Settings.load(config)
    except (pydantic.ValidationError, HostplaneError) as exc:
        fail(_settings_error(exc))


def _settings_error(exc: Exception) -> str:
    if isinstance(exc, pydantic.ValidationError):
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        return f"setting {field} (HOSTPLANE_{field.upper()}): {first['msg']}"
    return str(exc)


# --- serving ---------------------------------------------------------------


def _serve(ctx: typer.Context, *, api: bool, work: bool) -> None:
    from hostplane.cli.serve import serve

    try:
        serve(ctx.obj, api=api, work=work)
    except (HostplaneError, RuntimeError) as exc:
        fail(str(exc))


@app.command()
def up(
    ctx: typer.Context,
    stop_edge: Annotated[
        bool,
        typer.Option(
            "--stop-edge",
            help="Stop the edge (Caddy) when exiting; by default it keeps serving the sites "
            "and the next start adopts it (HOSTPLANE_EDGE_STOP_ON_EXIT).",
        ),
    ] = False,
) -> None:
    """Run the whole control plane (API, worker, edge) in the foreground."""
    if stop_edge:
        ctx.obj = ctx.obj.model_copy(update={"edge_stop_on_exit": True})
    _serve(ctx, api=True, work=True)


@app.command("api")
def api_only(ctx: typer.Context) -> None:
    """Run only the API; workers run the operations it records."""
    _serve(ctx, api=True, work=False)


@app.command()
def worker(ctx: typer.Context) -> None:
    """Run only a worker: it runs operations and keeps the edge in step."""
    _serve(ctx, api=False, work=True)


system.install(app)
apply.install(app)
canary.install(app)
for package in KINDS:
    importlib.import_module(f"{package}.cli").install(app)
