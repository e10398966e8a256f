"""The local runtime: sites as directories on this host, served by the edge itself."""

from __future__ import annotations

import html
import shutil
from pathlib import Path

import structlog

from hostplane import naming
from hostplane.domain.sites import RuntimeKind, SiteSpec, SiteType, StaticFiles, Upstream
from hostplane.providers.base import Outcome, PermanentError
from hostplane.providers.fs import atomic_write
from hostplane.providers.runtime import SiteSecrets

PLACEHOLDER = """<!doctype html>
<html><head><meta charset="utf-8"><title>{name}</title></head>
<body><h1>{name}</h1><p>This site is served by Hostplane.</p></body></html>
"""

log = structlog.get_logger(__name__)


class LocalRuntime:
    kind = RuntimeKind.LOCAL
    supported_types = frozenset({SiteType.STATIC})

    def __init__(self, sites_dir: Path) -> None:
        self.sites_dir = sites_dir

    def site_root(self, site: str) -> Path:
        return self.sites_dir / naming.site_dir(site)

    def webroot(self, site: str) -> Path:
        return self.site_root(site) / "public"

    def ensure_files(self, spec: SiteSpec, secrets: SiteSecrets | None) -> Outcome:
        self._check_type(spec)
        root = self.webroot(spec.name)
        created = not root.exists()
        root.mkdir(parents=True, exist_ok=True)
        self.site_root(spec.name).chmod(0o755)
        index = root / "index.html"
        if not index.exists():
            atomic_write(index, PLACEHOLDER.format(name=html.escape(spec.name)))
            created = True
        log.info("files.ensured", webroot=str(root), created=created)
        return Outcome.CREATED if created else Outcome.UNCHANGED

    def remove_files(self, spec: SiteSpec) -> Outcome:
        root = self.site_root(spec.name)
        if not root.exists():
            return Outcome.ABSENT
        shutil.rmtree(root)
        log.info("files.removed", site_root=str(root))
        return Outcome.DELETED

    def ensure_app(self, spec: SiteSpec) -> Outcome:
        self._check_type(spec)
        return Outcome.UNCHANGED  # static sites have no application process

    def remove_app(self, spec: SiteSpec) -> Outcome:
        return Outcome.ABSENT

    def ensure_web(self, spec: SiteSpec) -> Outcome:
        self._check_type(spec)
        return Outcome.UNCHANGED  # the edge serves local sites itself

    def remove_web(self, spec: SiteSpec) -> Outcome:
        return Outcome.ABSENT

    def upstream(self, spec: SiteSpec) -> Upstream:
        return StaticFiles(root=str(self.webroot(spec.name)))

    def observe(self) -> frozenset[str]:
        """Site directories present, in one directory scan."""
        if not self.sites_dir.exists():
            return frozenset()
        return frozenset(p.name for p in self.sites_dir.iterdir() if p.is_dir())

    def _check_type(self, spec: SiteSpec) -> None:
        if spec.type not in self.supported_types:
            raise PermanentError(f"the local runtime cannot run {spec.type} sites yet")
