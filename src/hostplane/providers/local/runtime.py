"""The local runtime: sites as folders in their tenant's home on this host.

A site lives in `<tenant home>/web/<site>/` (root's, 0755: the PHP prepend file in it cannot be
replaced), with `public/` (static and PHP sites: the tenant's, it uploads them over SFTP;
WordPress: root's code linked from Debian's package, `wp-content` the tenant's) and `tmp/`
(the tenant's, 0700). Static sites are served by the edge itself; PHP and WordPress sites by a
PHP-FPM master of their own running as the tenant's user, the edge speaking FastCGI to its
socket. A site an older release kept in `<sites dir>/<site>` is moved into its tenant's home
on its next ensure. Nothing of it is in the control plane's data directory, which is 0700.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import structlog

from hostplane import naming
from hostplane.providers.base import Outcome, PermanentError
from hostplane.providers.fs import atomic_write, ensure_dir
from hostplane.providers.local import sitefiles, users
from hostplane.providers.local.accounts import Account, TenantAccounts
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

SITES_FOLDER = "web"  # in the tenant's home: web/<site>/public
# Debian's wp-config.php loads /etc/wordpress/config-<host>.php, and .htaccess is Apache's.
WORDPRESS_SKIP = ("wp-config.php", ".htaccess")

log = structlog.get_logger(__name__)


class LocalRuntime:
    kind = RuntimeKind.LOCAL
    supported_types = frozenset({SiteType.STATIC, SiteType.PHP, SiteType.WORDPRESS})

    def __init__(
        self,
        sites_dir: Path,
        pools: PhpFpmPools,
        wordpress_source: Path,
        owner: users.Owner,
        accounts: TenantAccounts,
    ) -> None:
        self.legacy_dir = sites_dir  # where sites lived before tenants: moved on their next ensure
        self.pools = pools
        self.wordpress_source = wordpress_source
        self.owner = owner  # the mark on the system users it makes, and the only ones it takes
        self.accounts = accounts

    @staticmethod
    def account(spec: SiteSpec) -> Account:
        """The site's tenant's account; a site given none is its own tenant's."""
        if not spec.tenant:
            return Account(spec.name, naming.site_system_user(spec.name), spec.name)
        return Account(spec.tenant, spec.tenant_user, spec.tenant_made_for)

    def site_root(self, spec: SiteSpec) -> Path:
        return Path(self._site_root(spec))

    def _site_root(self, spec: SiteSpec) -> str:
        # Text, not Path joins: the edge's whole derive asks this of every site (a third of
        # its time at 10,000 sites went to pathlib).
        tenant = spec.tenant or spec.name  # self.account(spec).tenant, no Account made
        return f"{self.accounts.home_text(tenant)}/{SITES_FOLDER}/{spec.name}"

    def webroot(self, spec: SiteSpec) -> Path:
        return Path(self._webroot(spec))

    def _webroot(self, spec: SiteSpec) -> str:
        return f"{self._site_root(spec)}/public"

    def legacy_folders(self) -> frozenset[str]:
        """The folders left where an older release kept sites (one scan; empty once moved)."""
        return frozenset(sitefiles.folders(self.legacy_dir))

    def moved_in(self, spec: SiteSpec) -> bool:
        """Whether the site is still where an older release kept it (not yet in its home)."""
        legacy = self.legacy_dir / naming.site_dir(spec.name)
        return legacy.is_dir() and not self.site_root(spec).exists()

    # files ----------------------------------------------------------------

    def ensure_files(self, spec: SiteSpec, secrets: SiteSecrets | None) -> Outcome:
        """The tenant's account and home, the site's folder in it (moved there from where an
        older release kept it), and the site's files."""
        account = self.account(spec)
        changed = self.accounts.ensure(account).changed
        uid, gid = self.accounts.ids(account)
        site_root = self.site_root(spec)
        changed |= sitefiles.adopt_legacy(self.legacy_dir / naming.site_dir(spec.name), site_root)
        created = not site_root.exists()
        ensure_dir(site_root, 0o755, (0, 0))  # root's: the prepend file cannot be replaced
        ensure_dir(site_root / "tmp", 0o700, (uid, gid))
        root = self.webroot(spec)
        if spec.type is SiteType.WORDPRESS:
            changed |= self._ensure_wordpress(spec, secrets, (uid, gid))
        else:
            ensure_dir(root, 0o755, (uid, gid))  # the tenant uploads its site over SFTP
            changed |= sitefiles.placeholder(spec, root)
        log.info("files.ensured", webroot=str(root), tenant=account.tenant, created=created)
        return Outcome.CREATED if created else Outcome.UPDATED if changed else Outcome.UNCHANGED

    def _ensure_wordpress(
        self, spec: SiteSpec, secrets: SiteSecrets | None, ids: tuple[int, int]
    ) -> bool:
        """WordPress's code is root's (linked from Debian's package); wp-content its own."""
        if secrets is None:
            raise PermanentError(f"site {spec.name} has no database credentials stored")
        root = self.webroot(spec)
        changed = False
        if not (root / "wp-includes").is_dir():
            self._copy_wordpress(root)
            changed = True
        content = root / "wp-content"
        for sub in (content, content / "uploads"):
            sub.mkdir(exist_ok=True)
            os.chown(sub, *ids, follow_symlinks=False)
        config = render_wp_config(secrets, site_url=spec.url, db_host=secrets.db_host)
        target = root / "wp-config.php"
        if not target.exists() or target.read_text() != config:
            atomic_write(target, config, mode=0o640, owner=(0, ids[1]))
            changed = True
        return changed

    def _copy_wordpress(self, root: Path) -> None:
        if not (self.wordpress_source / "wp-includes").is_dir():
            raise PermanentError(
                f"WordPress is not installed at {self.wordpress_source}: run `make install` "
                "(Debian package wordpress)"
            )
        sitefiles.link_wordpress(self.wordpress_source, root, WORDPRESS_SKIP)

    def remove_files(self, spec: SiteSpec) -> Outcome:
        """The site's folder (and one an older release left); its tenant's account stays."""
        removed = False
        for root in (self.site_root(spec), self.legacy_dir / naming.site_dir(spec.name)):
            if root.exists():
                shutil.rmtree(root)
                log.info("files.removed", site_root=str(root))
                removed = True
            shutil.rmtree(root.with_name(f"{root.name}.partial"), ignore_errors=True)
        return Outcome.DELETED if removed else Outcome.ABSENT

    # processes ------------------------------------------------------------

    def ensure_app(self, spec: SiteSpec) -> Outcome:
        if spec.type is SiteType.STATIC:
            return Outcome.UNCHANGED  # static sites have no application process
        account = self.account(spec)
        if not users.exists(account.user):
            raise PermanentError(
                f"system user {account.user} is missing: the files step must run first"
            )
        return self.pools.ensure(
            spec.name, account.user, self.site_root(spec), max_children=spec.php_workers
        )

    def remove_app(self, spec: SiteSpec) -> Outcome:
        return self.pools.remove(spec.name)

    def ensure_web(self, spec: SiteSpec) -> Outcome:
        return Outcome.UNCHANGED  # the edge serves local sites itself

    def remove_web(self, spec: SiteSpec) -> Outcome:
        return Outcome.ABSENT

    def upstream(self, spec: SiteSpec) -> Upstream:
        root = self._webroot(spec)
        if spec.type is SiteType.STATIC:
            return StaticFiles(root=root)
        socket = f"{self.pools.run_dir}/{naming.fpm_socket_file(spec.name)}"
        return FastCGI(root=root, dial=f"unix/{socket}")

    def site_dirs(self) -> dict[str, Path]:
        """Every site folder here, in tenants' homes and where older releases kept them (one
        scan of each): site name → folder."""
        found = sitefiles.folders(self.legacy_dir)
        if self.accounts.homes_dir.is_dir():
            for home in self.accounts.homes_dir.iterdir():
                found.update(sitefiles.folders(home / SITES_FOLDER))
        return found

    def site_names(self) -> frozenset[str]:
        """The sites with a folder here: site_dirs' names, without a Path for each."""
        found = sitefiles.folder_names(self.legacy_dir)
        if self.accounts.homes_dir.is_dir():
            for home in self.accounts.homes_dir.iterdir():
                found |= sitefiles.folder_names(home / SITES_FOLDER)
        return frozenset(found)

    def inventory(self) -> tuple[frozenset[str], dict[str, bool]]:
        """Site folders and PHP-FPM pools with whether their master runs."""
        pools = {site: self.pools.running_pid(site) is not None for site in self.pools.managed()}
        return self.site_names(), pools

    def prune(self, kind: str, site: str) -> Outcome:
        """Remove the folder or the PHP-FPM pool of a site that is not live."""
        if kind == "php-pool":
            return self.pools.remove(site)
        folder = self.site_dirs().get(site)
        if folder is None:
            return Outcome.ABSENT
        shutil.rmtree(folder)
        return Outcome.DELETED

    def observe(self) -> frozenset[str]:
        """Sites with a folder or a PHP-FPM pool here."""
        return self.site_names() | self.pools.managed()
