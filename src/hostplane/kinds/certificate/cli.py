"""hostctl domain certificate … (a certificate belongs to its domain, so its command too)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import typer

from hostplane.cli.client import ApiClient, fail
from hostplane.cli.output import JsonOpt, TimeoutOpt, WaitOpt, run
from hostplane.kinds.domain.cli import domain_app, finish


def install(app: typer.Typer) -> None:
    domain_app.command("certificate")(domain_certificate)


def domain_certificate(
    ctx: typer.Context,
    site: str,
    domain: str,
    cert: Annotated[Path, typer.Option("--cert", help="PEM file: certificate, then chain")],
    key: Annotated[Path, typer.Option("--key", help="PEM file: its private key")],
    wait: WaitOpt = False,
    timeout: TimeoutOpt = 120.0,
    as_json: JsonOpt = False,
) -> None:
    """Install your own certificate for DOMAIN (instead of one from ACME)."""
    try:
        body = {"certificate": cert.read_text(), "key": key.read_text()}
    except OSError as exc:
        fail(f"cannot read {exc.filename}: {exc.strerror}")

    def go(client: ApiClient) -> None:
        path = f"/v1/sites/{site}/domains/{quote(domain, safe='')}/certificate"
        accepted = client.request("PUT", path, json=body)
        finish(client, accepted, wait, timeout, as_json)

    run(ctx, go)
