"""What `hostctl canary` and the kinds' probes share: a probe's result and the two
throw-away tenants the probes attack each other from."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from hostplane.cli.client import ApiClient, CliError
from hostplane.cli.follow import wait_quietly

OPERATION_TIMEOUT = 120.0


@dataclass(frozen=True)
class Probe:
    kind: str
    name: str
    held: bool
    detail: str = ""


@dataclass(frozen=True)
class Canary:
    """What a kind's probes work with: the API (as the operator) and the two tenants. Their
    names differ only where the first has a hyphen, so that an identifier built from one and
    used as a pattern (a `_` wildcard) would also cover the other's."""

    api: ApiClient
    tenants: tuple[str, str]

    def done(self, method: str, path: str, body: Any = None) -> Any:
        """Make the request and wait for its operation to succeed; the accepted body."""
        accepted = self.api.request(method, path, json=body)
        op = wait_quietly(self.api, str(accepted["operation"]["id"]), OPERATION_TIMEOUT)
        if op["status"] != "SUCCEEDED":
            raise CliError(f"{method} {path}: operation {op['id']} ended {op['status']}")
        return accepted


def tenant_names(tag: str | None = None) -> tuple[str, str]:
    tag = tag or secrets.token_hex(3)
    return f"cn-{tag}", f"cnx{tag}"
