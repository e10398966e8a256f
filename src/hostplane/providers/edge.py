"""What the edge must serve: pure data, rendered by an edge provider."""

from __future__ import annotations

from dataclasses import dataclass

from hostplane.providers.runtime import Upstream

ROUTE_HEADER = "X-Hostplane-Route"
ACME_CHALLENGE_PATH = "/.well-known/acme-challenge/"


@dataclass(frozen=True, slots=True)
class EdgeRoute:
    """Requests for any of `hosts` go to `upstream`; answers carry ROUTE_HEADER: route_id."""

    route_id: str
    hosts: tuple[str, ...]
    upstream: Upstream


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
