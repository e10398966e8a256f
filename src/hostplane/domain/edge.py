"""What the edge must route: pure data, rendered by an edge provider."""

from __future__ import annotations

from dataclasses import dataclass

from hostplane.domain.sites import Upstream

ROUTE_HEADER = "X-Hostplane-Route"


@dataclass(frozen=True, slots=True)
class EdgeRoute:
    """Requests for any of `hosts` go to `upstream`; answers carry ROUTE_HEADER: route_id."""

    route_id: str
    hosts: tuple[str, ...]
    upstream: Upstream
