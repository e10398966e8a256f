"""What the edge must serve: pure data, rendered by an edge provider."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from hostplane.errors import ValidationError
from hostplane.providers.runtime import Upstream

if TYPE_CHECKING:
    import httpx

    from hostplane.providers.base import Outcome

ROUTE_HEADER = "X-Hostplane-Route"
ACME_CHALLENGE_PATH = "/.well-known/acme-challenge/"
INSTALLER_HEADER = "X-Hostplane-Installer"
SUSPENDED = "suspended"  # a maintenance reason: its owner (tenant) is suspended


@dataclass(frozen=True, slots=True)
class EdgeRoute:
    """Requests for any of `hosts` go to `upstream`; answers carry ROUTE_HEADER: route_id.

    `denied_paths` (e.g. "/wp-admin/install.php") are answered 404 by the edge itself, with
    anything below them ("/wp-admin/install.php/x") and whatever their letter case, except to
    a request carrying INSTALLER_HEADER with `installer_key` (the control plane's own). In
    `maintenance`, every request is answered 503 with a plain maintenance page and none
    reaches the upstream (ACME challenges for the hosts are still answered); with
    `maintenance_reason` SUSPENDED the page says the site is suspended instead."""

    route_id: str
    hosts: tuple[str, ...]
    upstream: Upstream
    denied_paths: tuple[str, ...] = ()
    maintenance: bool = False
    installer_key: str | None = None
    maintenance_reason: str | None = None

    def __post_init__(self) -> None:
        _check_denied_paths(self.denied_paths)


@functools.cache
def _check_denied_paths(paths: tuple[str, ...]) -> None:
    # Every guarded route has the same few paths: checked once, not once per route.
    for path in paths:
        if not path.startswith("/") or "*" in path or path.rstrip("/") == "":
            raise ValidationError(
                f"denied path {path!r} must be an absolute path such as "
                "'/wp-admin/install.php', without wildcards"
            )


@dataclass(frozen=True, slots=True)
class EdgeCertificate:
    """A certificate the edge presents for `host` over HTTPS."""

    host: str
    certificate_pem: str  # leaf first, then the chain
    key_pem: str


@dataclass(frozen=True, slots=True)
class AcmeChallenge:
    """The edge answers GET http://<host>/.well-known/acme-challenge/<token> with `validation`."""

    host: str
    token: str
    validation: str


@dataclass(frozen=True, slots=True)
class EdgeState:
    """Everything the edge serves, derived from the database alone."""

    routes: tuple[EdgeRoute, ...]
    certificates: tuple[EdgeCertificate, ...] = ()
    challenges: tuple[AcmeChallenge, ...] = ()


@dataclass(frozen=True, slots=True)
class EdgeSlice:
    """One route's part of the edge's desired state: `state` holds its route (none when it
    is not routed), its certificates and challenges. `hosts` are every host the route may
    hold at the edge (its own, and those it gave up): nothing else is looked at or changed,
    and of those only what is `route_id`'s or should become so."""

    route_id: str
    state: EdgeState
    hosts: tuple[str, ...]


class Edge(Protocol):
    """What the control plane asks of its edge: Caddy alone (caddy/edge.py) or HAProxy in
    front of Caddy (haproxy/edge.py)."""

    def apply(self, state: EdgeState) -> Outcome: ...

    def observe(self) -> list[str]: ...

    def in_sync(self, state: EdgeState) -> tuple[bool, frozenset[str]]: ...

    def confirm(self, host: str, route_id: str) -> httpx.Response:
        """Wait until `host` is answered through the edge by `route_id`; that answer."""
        ...

    def confirm_gone(self, host: str) -> None: ...

    def get(self, host: str, path: str = "/") -> httpx.Response: ...

    def served_certificate(self, host: str) -> str | None: ...

    def confirm_certificate(self, host: str, fingerprint: str) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class SlicedEdge(Protocol):
    """An Edge that also changes one route without reading or loading the others (HAProxy
    in front): a change of one site costs the same at any number of sites."""

    def apply_slice(self, part: EdgeSlice) -> Outcome: ...
