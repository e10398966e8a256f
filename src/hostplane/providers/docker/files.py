"""A Docker site's files, in its volume: a placeholder page, or WordPress's files copied from the
PHP image, and wp-config.php. Files are populated by a short-lived container with the volume
mounted; secrets enter with `put_archive`, never as an argument, an environment variable or a
label."""

from __future__ import annotations

import hashlib
import io
import tarfile
import time
from pathlib import Path

from hostplane import naming
from hostplane.providers.base import PermanentError
from hostplane.providers.docker.client import EngineClient
from hostplane.providers.docker.nginx import WEBROOT
from hostplane.providers.runtime import SiteSecrets, SiteSpec, SiteType
from hostplane.providers.wordpress import render_wp_config

DB_SOCKET_DIR = "/run/mysqld"
WWW_DATA = 33
PLACEHOLDER_HTML = (
    '<!doctype html><html><head><meta charset="utf-8"><title>{name}</title></head>'
    "<body><h1>{name}</h1><p>This site is served by Hostplane.</p></body></html>\n"
)
PLACEHOLDER_PHP = (
    "<?php $name = '{name}'; echo '<!doctype html><html><head><meta charset=\"utf-8\">"
    "<title>' . $name . '</title></head><body><h1>' . $name . '</h1><p>PHP ' . PHP_VERSION"
    " . ' is serving this site.</p></body></html>';\n"
)

Files = dict[str, tuple[bytes, int]]  # name in the webroot → (content, mode)


def config_files(spec: SiteSpec, secrets: SiteSecrets | None) -> Files:
    """The generated files of the site's webroot (WordPress's wp-config.php)."""
    if spec.type is not SiteType.WORDPRESS:
        return {}
    if secrets is None:
        raise PermanentError(f"site {spec.name} has no database credentials stored")
    socket_name = Path(secrets.db_host.split(":", 1)[1]).name
    config = render_wp_config(
        secrets, site_url=spec.url, db_host=f"localhost:{DB_SOCKET_DIR}/{socket_name}"
    )
    return {"wp-config.php": (config.encode(), 0o640)}


def populate(
    engine: EngineClient, image: str, labels: dict[str, str], spec: SiteSpec, files: Files
) -> bool:
    """Run the site's populate script in a short-lived container (`image`, labelled `labels`)
    with the volume, then put `files` into it where they differ. True when anything changed."""
    container = engine.call(
        "start a files container",
        engine.client.containers.run,
        image,
        ["sleep", "120"],
        detach=True,
        remove=False,
        volumes={naming.site_volume(spec.name): {"bind": WEBROOT, "mode": "rw"}},
        labels=labels,
        network_mode="none",
    )
    try:
        code, output = engine.call(
            "populate the volume", container.exec_run, ["sh", "-c", populate_script(spec)]
        )
        if code not in (0, 10):
            raise PermanentError(
                f"populating the files of site {spec.name} failed",
                detail=output.decode(errors="replace")[-1000:],
            )
        changed = code == 10
        for name, (content, mode) in files.items():
            path = f"{WEBROOT}/{name}"
            _, digest = engine.call(
                "read a file",
                container.exec_run,
                ["sh", "-c", f"sha256sum {path} 2>/dev/null || true"],
            )
            if digest.decode().split(" ")[0] == hashlib.sha256(content).hexdigest():
                continue
            engine.call("write a file", container.put_archive, WEBROOT, tar(name, content, mode))
            changed = True
        return bool(changed)
    finally:
        engine.call("remove the files container", container.remove, force=True)


def populate_script(spec: SiteSpec) -> str:
    """Shell run in the volume; exit 10 means it changed something."""
    name = spec.name  # a validated DNS label: safe inside single quotes
    if spec.type is SiteType.WORDPRESS:
        return (
            f"cd {WEBROOT} && if [ ! -e wp-includes ]; then cp -a /usr/src/wordpress/. . && "
            "mkdir -p wp-content/uploads && chown -R 33:33 wp-content && exit 10; fi"
        )
    if spec.type is SiteType.PHP:
        body = PLACEHOLDER_PHP.format(name=name)
        target = "index.php"
    else:
        body = PLACEHOLDER_HTML.format(name=name)
        target = "index.html"
    quoted = "'" + body.replace("'", "'\\''") + "'"
    return (
        f"cd {WEBROOT} && if [ ! -e {target} ]; then printf '%s' {quoted} > {target} && exit 10; fi"
    )


def tar(name: str, content: bytes, mode: int) -> bytes:
    """A one-file tar archive for `put_archive`; a 0640 file belongs to www-data."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        info.mode = mode
        info.uid = info.gid = WWW_DATA if mode == 0o640 else 0
        info.mtime = int(time.time())
        archive.addfile(info, io.BytesIO(content))
    return buf.getvalue()
