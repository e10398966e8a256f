"""A host made by the release before tenants, upgraded in place: the previous release's own code
(taken from git) makes a static, a PHP and a WordPress site, with a system user per site and
their files in HOSTPLANE_SITES_DIR; this release then starts on the same state, host and edge.
Every site is still served as before, from its files moved into the home of the tenant made
for it, with the user it had, and the reconciler finds nothing out of place."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

from hostplane import naming
from tests.e2e.harness import ControlPlane, wait_for
from tests.e2e.traces import fpm_running, system_user_exists

REPO = Path(__file__).resolve().parents[2]
# The last commit of main before tenants: sites in HOSTPLANE_SITES_DIR, a system user each.
RELEASE_BEFORE_TENANTS = "39d49d29ac57880889ae9b018ce7ce92ad0fa06e"


def _release_src(into: Path) -> Path:
    """That release's `src`, from this checkout's history (CI runs in a clone of it)."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", RELEASE_BEFORE_TENANTS, "src"],
        capture_output=True,
        check=True,
    )
    into.mkdir()
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "src"


def _served(cp: ControlPlane, names: dict[str, str]) -> dict[str, str]:
    """Each site's home page as a browser asks for it (WordPress redirects other Hosts)."""
    return {name: cp.edge_get(f"{name}.localhost:{cp.edge_port}").text for name in names}


def test_a_host_made_by_the_release_before_tenants_is_served_after_the_upgrade(
    tmp_path, mariadb_server
):
    tag = uuid.uuid4().hex[:4]
    names = {f"upst{tag}": "static", f"upph{tag}": "php", f"upwp{tag}": "wordpress"}
    old_code = {"PYTHONPATH": str(_release_src(tmp_path / "release"))}
    cp = ControlPlane(
        tmp_path / "data", extra_env={"HOSTPLANE_SITE_DB_URL": mariadb_server.url, **old_code}
    )
    cp.start()
    assert "tenant" not in cp.cli("--help").stdout, "the previous release knows no tenants"
    for name, type_ in names.items():
        extra = ["--admin-email", "me@example.org"] if type_ == "wordpress" else []
        made = cp.cli("site", "create", name, "--type", type_, *extra, "--wait")
        assert made.returncode == 0, made.stdout + made.stderr
    static, php, wordpress = names
    (cp.sites_dir / static / "public" / "index.html").write_text(f"static of {static}\n")
    (cp.sites_dir / php / "public" / "index.php").write_text('<?php echo "php ", 6 * 7, "\\n";')
    before = _served(cp, names)
    assert before[static] == f"static of {static}\n" and before[php] == "php 42\n"
    assert f"<title>{wordpress}" in before[wordpress]
    cp.stop(edge=False)  # the edge outlives the plane, as in a real upgrade

    for key in old_code:
        del cp.extra_env[key]
    cp.start()
    assert "tenant" in cp.cli("--help").stdout
    wait_for(lambda: _served(cp, names) == before, "every site served as before the upgrade")
    for name in names:
        assert cp.site_dir(name).is_dir() and not (cp.sites_dir / name).exists()
        assert system_user_exists(name)  # the user the site had is its tenant's
        with cp.api() as api:
            tenant = api.get(f"/v1/tenants/{name}").json()
        assert (tenant["status"], tenant["made_for"]) == ("ACTIVE", name), tenant
    assert fpm_running(cp, php) and fpm_running(cp, wordpress)
    with cp.api() as api:  # its database, counted as its tenant's by the upgrade
        listed = api.get(f"/v1/tenants/{wordpress}/databases").json()["items"]
        usage = api.get(f"/v1/tenants/{wordpress}").json()["usage"]["databases"]
    assert [(d["name"], d["site"], d["status"]) for d in listed] == [
        (naming.site_database(wordpress), wordpress, "ACTIVE")
    ]
    assert usage["used"] == 1
    owner = (cp.site_dir(php) / "public").owner()
    assert owner == naming.site_system_user(php)
    drift = cp.cli("drift", "--json")
    assert drift.returncode == 0 and json.loads(drift.stdout) == [], drift.stdout + drift.stderr
