"""One control plane for the isolation tests (real Caddy, PHP-FPM, MariaDB), with a static, a
PHP and an installed WordPress site, shared by every module here."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.harness import ControlPlane
from tests.isolation.helpers import Hosted


@pytest.fixture(scope="package")
def hosted(mariadb_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosted]:
    cp = ControlPlane(
        tmp_path_factory.mktemp("iso") / "data",
        extra_env={"HOSTPLANE_SITE_DB_URL": mariadb_server.url},
        shared=True,  # every module here uses it: stopped by this fixture, not at module end
    ).start()
    tag = uuid.uuid4().hex[:6]
    sites = Hosted(cp, static=f"st-{tag}", php=f"ph-{tag}", wordpress=f"wp-{tag}")
    try:
        for name, kind, *extra in (
            (sites.static, "static"),
            (sites.php, "php"),
            (sites.wordpress, "wordpress", "--admin-email", "me@example.org"),
        ):
            created = cp.cli("site", "create", name, "--type", kind, *extra, "--wait")
            assert created.returncode == 0, created.stdout + created.stderr
        yield sites
    finally:
        cp.stop()
        cp.clean_host()
