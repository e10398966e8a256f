"""The local runtime: sites as directories on this host.

Static sites are served by the edge itself. PHP and WordPress sites get a system user of their
own (marked as this control plane's), a webroot whose code belongs to root (only `wp-content`
and `tmp` are the site's), and a PHP-FPM master running as that user; the edge speaks FastCGI
to its socket. Sites' directories live outside the control plane's data directory, so that
one can be 0700 whatever the sites are.
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
from pathlib import Path

import structlog

from hostplane import naming
from hostplane.providers.base import Outcome, PermanentError
from hostplane.providers.fs import atomic_write, ensure_dir
from hostplane.providers.local import users
from hostplane.providers.local.fpm import PhpFpmPools
from hostplane.providers.runtime import (
    FastCGI,
    RuntimeKind,
    SiteSecrets,
    SiteSpec,
    SiteType,
    StaticFiles,
    Upstream,
)
from hostplane.providers.wordpress import render_wp_config

PLACEHOLDER = """<!doctype html>
<html><head><meta charset="utf-8"><title>{name}</title></head>
<body><h1>{name}</h1><p>This site is served by Hostplane.</p></body></html>
"""
PHP_PLACEHOLDER = """<?php
// Placeholder page of a Hostplane PHP site: replace it with the site's code.
$name = {name};
echo '<!doctype html><html><head><meta charset="utf-8"><title>' . $name . '</title></head>';
echo '<body><h1>' . $name . '</h1>';
echo '<p>PHP ' . PHP_VERSION . ' is serving this site.</p></body></html>';
"""
# Debian's wp-config.php loads /etc/wordpress/config-<host>.php, and .htaccess is Apache's.
WORDPRESS_SKIP = ("wp-config.php", ".htaccess")

log = structlog.get_logger(__name__)


class LocalRuntime:
    kind = RuntimeKind.LOCAL
    supported_types = frozenset({SiteType.STATIC, SiteType.PHP, SiteType.WORDPRESS})

    def __init__(
        self, sites_dir: Path, pools: PhpFpmPools, wordpress_source: Path, owner: users.Owner
    ) -> None:
        self.sites_dir = sites_dir
        self.pools = pools
        self.wordpress_source = wordpress_source
        self.owner = owner  # the mark on the system users it makes, and the only ones it takes

    def site_root(self, site: str) -> Path:
        return self.sites_dir / naming.site_dir(site)

    def webroot(self, site: str) -> Path:
        return self.site_root(site) / "public"

    # files ----------------------------------------------------------------

    def ensure_files(self, spec: SiteSpec, secrets: SiteSecrets | None) -> Outcome:
        root = self.webroot(spec.name)
        created = not root.exists()
        ensure_dir(self.sites_dir, 0o755)
        if spec.type is SiteType.STATIC:
            root.mkdir(parents=True, exist_ok=True)
            self.site_root(spec.name).chmod(0o755)
            created |= _write_if_missing(
                root / "index.html", PLACEHOLDER.format(name=html.escape(spec.name))
            )
        else:
            created |= self._ensure_php_files(spec, secrets)
        log.info("files.ensured", webroot=str(root), created=created)
        return Outcome.CREATED if created else Outcome.UNCHANGED

    def _ensure_php_files(self, spec: SiteSpec, secrets: SiteSecrets | None) -> bool:
        user = naming.site_system_user(spec.name)
        site_root = self.site_root(spec.name)
        changed = users.ensure_user(user, site_root, owner=self.owner, site=spec.name).changed
        uid, gid = users.ids(user)
        site_root.mkdir(parents=True, exist_ok=True)
        site_root.chmod(0o755)
        tmp = site_root / "tmp"
        tmp.mkdir(exist_ok=True)
        os.chown(tmp, uid, gid)
        tmp.chmod(0o700)
        root = self.webroot(spec.name)
        if spec.type is SiteType.PHP:
            root.mkdir(exist_ok=True)
            name = "'" + html.escape(spec.name) + "'"
            return (
                _write_if_missing(root / "index.php", PHP_PLACEHOLDER.format(name=name)) or changed
            )
        if secrets is None:
            raise PermanentError(f"site {spec.name} has no database credentials stored")
        if not (root / "wp-includes").is_dir():
            self._copy_wordpress(root)
            changed = True
        content = root / "wp-content"
        for sub in (content, content / "uploads"):
            sub.mkdir(exist_ok=True)
            os.chown(sub, uid, gid, follow_symlinks=False)
        config = render_wp_config(secrets, site_url=spec.url, db_host=secrets.db_host)
        target = root / "wp-config.php"
        if not target.exists() or target.read_text() != config:
            atomic_write(target, config, mode=0o640)
            os.chown(target, 0, gid)
            changed = True
        return changed

    def _copy_wordpress(self, root: Path) -> None:
        if not (self.wordpress_source / "wp-includes").is_dir():
            raise PermanentError(
                f"WordPress is not installed at {self.wordpress_source}: run `make install` "
                "(Debian package wordpress)"
            )
        partial = root.with_name("public.partial")
        shutil.rmtree(partial, ignore_errors=True)
        # Hard links to the package's files (0.1 s instead of 1.5-2.5 s for a copy here): they
        # are root's and read-only to the site, and nothing rewrites them in place — config
        # files are written by rename. -L dereferences Debian's symlinks into /usr/share/php
        # and /usr/share/javascript, which PHP's open_basedir would refuse. Another filesystem
        # cannot hold hard links: then the files are copied.
        for argv in (["cp", "-rL", "--link"], ["cp", "-rL"]):
            result = subprocess.run(
                [*argv, str(self.wordpress_source), str(partial)], capture_output=True, text=True
            )
            if result.returncode == 0:
                break
            shutil.rmtree(partial, ignore_errors=True)
        else:
            raise PermanentError("copying WordPress's files failed", detail=result.stderr[-1000:])
        for name in WORDPRESS_SKIP:
            (partial / name).unlink(missing_ok=True)
        if root.exists():
            shutil.rmtree(root)
        partial.rename(root)

    def remove_files(self, spec: SiteSpec) -> Outcome:
        root = self.site_root(spec.name)
        present = root.exists()
        if present:
            shutil.rmtree(root)
            log.info("files.removed", site_root=str(root))
        shutil.rmtree(root.with_name(f"{root.name}.partial"), ignore_errors=True)
        user = naming.site_system_user(spec.name)
        user_gone = users.remove_user(user, owner=self.owner, site=spec.name).changed
        return Outcome.DELETED if present or user_gone else Outcome.ABSENT

    # processes ------------------------------------------------------------

    def ensure_app(self, spec: SiteSpec) -> Outcome:
        if spec.type is SiteType.STATIC:
            return Outcome.UNCHANGED  # static sites have no application process
        user = naming.site_system_user(spec.name)
        if not users.exists(user):
            raise PermanentError(f"system user {user} is missing: the files step must run first")
        return self.pools.ensure(spec.name, user, self.site_root(spec.name))

    def remove_app(self, spec: SiteSpec) -> Outcome:
        return self.pools.remove(spec.name)

    def ensure_web(self, spec: SiteSpec) -> Outcome:
        return Outcome.UNCHANGED  # the edge serves local sites itself

    def remove_web(self, spec: SiteSpec) -> Outcome:
        return Outcome.ABSENT

    def upstream(self, spec: SiteSpec) -> Upstream:
        # Formatted rather than joined: the edge's desired state asks this of every site.
        root = f"{self.sites_dir}/{naming.site_dir(spec.name)}/public"
        if spec.type is SiteType.STATIC:
            return StaticFiles(root=root)
        socket = f"{self.pools.run_dir}/{naming.fpm_socket_file(spec.name)}"
        return FastCGI(root=root, dial=f"unix/{socket}")

    def inventory(self) -> tuple[frozenset[str], dict[str, bool]]:
        """Site directories (one scan) and PHP-FPM pools with whether their master runs."""
        dirs: frozenset[str] = frozenset()
        if self.sites_dir.exists():
            dirs = frozenset(
                p.name for p in self.sites_dir.iterdir() if p.is_dir() and "." not in p.name
            )
        pools = {site: self.pools.running_pid(site) is not None for site in self.pools.managed()}
        return dirs, pools

    def prune(self, kind: str, site: str) -> Outcome:
        """Remove the webroot (with its system user) or the PHP-FPM pool of a site that is
        not live."""
        if kind == "php-pool":
            return self.pools.remove(site)
        spec = SiteSpec(site, SiteType.STATIC, RuntimeKind.LOCAL, hostname=site)
        return self.remove_files(spec)

    def observe(self) -> frozenset[str]:
        """Sites with a directory or a PHP-FPM pool here."""
        dirs: frozenset[str] = frozenset()
        if self.sites_dir.exists():
            dirs = frozenset(
                p.name for p in self.sites_dir.iterdir() if p.is_dir() and "." not in p.name
            )
        return dirs | self.pools.managed()


def _write_if_missing(path: Path, content: str) -> bool:
    if path.exists():
        return False
    atomic_write(path, content)
    return True
