"""PHP and WordPress sites on the local runtime, for real: MariaDB, PHP-FPM, Caddy — created,
served, logged into, and destroyed without a trace; failures compensated and retried."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from hostplane import naming
from tests.e2e.harness import ControlPlane
from tests.e2e.traces import assert_no_trace, db_traces, fpm_running, system_user_exists


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def local_cp(mariadb_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    cp = ControlPlane(
        tmp_path_factory.mktemp("php") / "data",
        extra_env={"HOSTPLANE_SITE_DB_URL": mariadb_server.url},
    ).start()
    yield cp
    cp.stop()
    cp.clean_host()


def test_php_site_runs_as_its_own_user_and_leaves_nothing(local_cp, mariadb_server):
    cp = local_cp
    name = _name("php")
    created = cp.cli("site", "create", name, "--type", "php", "--wait")
    assert created.returncode == 0, created.stdout + created.stderr
    page = cp.edge_get(f"{name}.localhost")
    assert page.status_code == 200 and f"<h1>{name}</h1>" in page.text and "PHP 8" in page.text
    assert system_user_exists(name) and fpm_running(cp, name)
    config = (cp.data_dir / "php-fpm" / f"{name}.conf").read_text()
    assert f"user = {naming.site_system_user(name)}" in config

    destroyed = cp.cli("site", "destroy", name, "--wait")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert_no_trace(cp, mariadb_server, name)


def test_wordpress_site_is_installed_and_accepts_its_admin(local_cp, mariadb_server):
    cp = local_cp
    name = _name("blog")
    created = cp.cli(
        "site", "create", name, "--type", "wordpress", "--admin-email", "me@example.org", "--wait"
    )
    assert created.returncode == 0, created.stdout + created.stderr
    password = re.search(r"password (\S+) \(shown only now\)", created.stdout)
    assert password, created.stdout

    # As a browser sends it: WordPress redirects other Host headers to its home URL.
    visitor_host = f"{name}.localhost:{cp.edge_port}"
    home = cp.edge_get(visitor_host)
    assert home.status_code == 200, home.text[:500]
    assert f"<title>{name}" in home.text
    from hostplane.providers.wordpress import WordPressInstaller

    WordPressInstaller(f"http://127.0.0.1:{cp.edge_port}").check_login(
        visitor_host, password.group(1)
    )
    wp_config = cp.site_dir(name) / "public" / "wp-config.php"
    assert wp_config.stat().st_mode & 0o777 == 0o640
    assert password.group(1) not in cp.log_tail(100_000)

    with cp.api() as api:
        op = api.get(f"/v1/sites/{name}").json()["operation"]
        steps = api.get(f"/v1/operations/{op['id']}").json()["steps"]
    assert [s["name"] for s in steps] == ["database", "files", "app", "edge", "confirm", "install"]
    assert db_traces(mariadb_server, name) == (
        [naming.site_database(name)],
        [naming.site_database_user(name)],
    )

    destroyed = cp.cli("site", "destroy", name, "--wait")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert_no_trace(cp, mariadb_server, name)


def test_destroy_keep_data_keeps_files_and_database(local_cp, mariadb_server):
    cp = local_cp
    name = _name("keep")
    assert cp.cli("site", "create", name, "--type", "wordpress", "--wait").returncode == 0
    kept = cp.cli("site", "destroy", name, "--keep-data", "--wait")
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert (cp.site_dir(name) / "public" / "wp-config.php").exists()
    assert db_traces(mariadb_server, name)[0] == [naming.site_database(name)]
    assert not fpm_running(cp, name)
    assert cp.edge_get(f"{name}.localhost").status_code == 404


def test_concurrent_creates_do_not_cross_and_a_duplicate_gets_409(local_cp, mariadb_server):
    from concurrent.futures import ThreadPoolExecutor

    cp = local_cp
    a, b = _name("cona"), _name("conb")

    def post(name: str) -> tuple[int, dict]:
        with cp.api() as api:
            r = api.post("/v1/sites", json={"name": name, "type": "wordpress"})
        return r.status_code, r.json()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(post, [a, b, a, b]))
    by_name: dict[str, list[int]] = {a: [], b: []}
    for name, (code, _) in zip([a, b, a, b], results, strict=True):
        by_name[name].append(code)
    assert sorted(by_name[a]) == [202, 409] and sorted(by_name[b]) == [202, 409], results
    ops = [body["operation"]["id"] for code, body in results if code == 202]
    for op in ops:
        assert cp.wait_operation(op, timeout=90)["status"] == "SUCCEEDED"
    for name in (a, b):
        page = cp.edge_get(f"{name}.localhost:{cp.edge_port}")
        # Not installed yet: WordPress sends its own visitors to its own installer.
        assert page.status_code == 302, page.status_code
        assert page.headers["location"].startswith(f"http://{name}.localhost:{cp.edge_port}/")
        config = (cp.site_dir(name) / "public" / "wp-config.php").read_text()
        assert f"'{naming.site_database(name)}'" in config
        other = b if name == a else a
        assert naming.site_database(other) not in config
