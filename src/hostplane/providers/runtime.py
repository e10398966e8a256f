"""The runtime protocol: where a site's files and processes live.

`local` keeps them on this host (webroot, PHP-FPM pool); `docker` in a volume
and containers. Each mutation is idempotent and returns an Outcome. The edge
routes to whatever `upstream(spec)` says, derived from the spec alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hostplane.domain.sites import RuntimeKind, SiteSpec, SiteType, Upstream
from hostplane.providers.base import Outcome


@dataclass(frozen=True, slots=True)
class SiteSecrets:
    """What a WordPress or PHP site's config needs; never logged, never a workflow input."""

    db_name: str
    db_user: str
    db_password: str
    db_host: str
    salts: dict[str, str]


class SiteRuntime(Protocol):
    kind: RuntimeKind
    supported_types: frozenset[SiteType]

    def ensure_files(self, spec: SiteSpec, secrets: SiteSecrets | None) -> Outcome: ...

    def remove_files(self, spec: SiteSpec) -> Outcome: ...

    def ensure_app(self, spec: SiteSpec) -> Outcome: ...

    def remove_app(self, spec: SiteSpec) -> Outcome: ...

    def ensure_web(self, spec: SiteSpec) -> Outcome: ...

    def remove_web(self, spec: SiteSpec) -> Outcome: ...

    def upstream(self, spec: SiteSpec) -> Upstream: ...
