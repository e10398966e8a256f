"""A local site's files: placeholder pages, WordPress linked from Debian's package, the folders
found on the host, and the move of a site from where an older release kept it."""

from __future__ import annotations

import html
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import structlog

from hostplane.providers.base import PermanentError
from hostplane.providers.fs import atomic_write
from hostplane.providers.runtime import SiteSpec, SiteType

log = structlog.get_logger(__name__)

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


def placeholder(spec: SiteSpec, root: Path) -> bool:
    """The site's first page, unless it has one (or the tenant put its own there)."""
    if spec.type is SiteType.STATIC:
        page = PLACEHOLDER.format(name=html.escape(spec.name))
        return _write_if_missing(root / "index.html", page)
    name = "'" + html.escape(spec.name) + "'"
    return _write_if_missing(root / "index.php", PHP_PLACEHOLDER.format(name=name))


def _write_if_missing(path: Path, content: str) -> bool:
    if path.exists() or path.is_symlink():
        return False
    atomic_write(path, content)
    return True


def link_wordpress(source: Path, root: Path, skip: Sequence[str]) -> None:
    """WordPress's files at `root`: hard links to the package's files (0.1 s instead of 1.5-2.5
    s for a copy here). They are root's and read-only to the site, and nothing rewrites them in
    place: config files are written by rename. -L dereferences Debian's symlinks into
    /usr/share/php and /usr/share/javascript, which PHP's open_basedir would refuse. Another
    filesystem cannot hold hard links: then the files are copied."""
    partial = root.with_name("public.partial")
    shutil.rmtree(partial, ignore_errors=True)
    for argv in (["cp", "-rL", "--link"], ["cp", "-rL"]):
        result = subprocess.run([*argv, str(source), str(partial)], capture_output=True, text=True)
        if result.returncode == 0:
            break
        shutil.rmtree(partial, ignore_errors=True)
    else:
        raise PermanentError("copying WordPress's files failed", detail=result.stderr[-1000:])
    for name in skip:
        (partial / name).unlink(missing_ok=True)
    if root.exists():
        shutil.rmtree(root)
    partial.rename(root)


def folders(parent: Path) -> dict[str, Path]:
    """Site folders directly in `parent` (one scan): name → path."""
    return {name: parent / name for name in folder_names(parent)}


def folder_names(parent: Path) -> set[str]:
    """The names of the site folders directly in `parent`, in one scan. os.scandir gives each
    entry's type with the listing and no Path is made: no stat per site, which the reconciler
    would pay for thousands of them."""
    try:
        with os.scandir(parent) as entries:
            return {
                e.name for e in entries if "." not in e.name and e.is_dir(follow_symlinks=False)
            }
    except (FileNotFoundError, NotADirectoryError):
        return set()


def adopt_legacy(legacy: Path, site_root: Path) -> bool:
    """Move a site's folder from where an older release kept it (`<sites dir>/<site>`) into its
    tenant's home, once: a rename on one filesystem, else a copy then the removal."""
    if not legacy.is_dir() or legacy.is_symlink() or site_root.exists():
        return False
    site_root.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(legacy), str(site_root))
    log.info("files.moved_into_tenant_home", was=str(legacy), now=str(site_root))
    return True
