"""Sites on the Docker runtime through a real engine, MariaDB and Caddy: volume, PHP-FPM and
nginx containers on a network of their own; destroyed without a trace."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

import pytest

from hostplane import naming
from hostplane.providers.docker.marks import PLANE_LABEL
from hostplane.providers.wordpress import WordPressInstaller
from tests.e2e.harness import ControlPlane, UnixStallProxy
from tests.e2e.traces import db_traces
from tests.fixtures_docker import plane_id


@pytest.fixture(scope="module")
def docker_cp(
    docker_engine, mariadb_server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    cp = ControlPlane(
        tmp_path_factory.mktemp("docker") / "data",
        extra_env={
            "HOSTPLANE_SITE_DB_URL": mariadb_server.url,
            "HOSTPLANE_DOCKER_HOST": docker_engine.host,
            "HOSTPLANE_RUNTIME": "docker",
        },
    ).start()
    yield cp
    cp.stop()
    cp.clean_host()


def _docker_traces(engine, site: str) -> list[str]:
    label = {"label": f"{naming.SITE_LABEL}={site}"}
    client = engine.client
    return [
        *(f"container {c.name}" for c in client.containers.list(all=True, filters=label)),
        *(f"volume {v.name}" for v in client.volumes.list(filters=label)),
        *(f"network {n.name}" for n in client.networks.list(filters=label)),
    ]


@pytest.mark.parametrize("site_type", ["static", "php"])
def test_static_and_php_sites_in_containers(docker_cp, docker_engine, site_type):
    cp = docker_cp
    name = f"d{site_type[:3]}-{uuid.uuid4().hex[:6]}"
    created = cp.cli("site", "create", name, "--type", site_type, "--wait")
    assert created.returncode == 0, created.stdout + created.stderr
    page = cp.edge_get(f"{name}.localhost")
    assert page.status_code == 200 and f"<h1>{name}</h1>" in page.text
    if site_type == "php":
        assert "PHP 8.2" in page.text
    web = docker_engine.client.containers.get(naming.web_container(name))
    assert web.labels[naming.SITE_LABEL] == name
    volume = docker_engine.client.volumes.get(naming.site_volume(name))
    assert web.labels[PLANE_LABEL] == volume.attrs["Labels"][PLANE_LABEL] == plane_id(cp.data_dir)
    assert web.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert web.attrs["HostConfig"]["Memory"] > 0 and web.attrs["HostConfig"]["NanoCpus"] > 0
    assert web.attrs["HostConfig"]["PortBindings"] in (None, {})

    destroyed = cp.cli("site", "destroy", name, "--wait")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert _docker_traces(docker_engine, name) == []
    assert cp.edge_get(f"{name}.localhost").status_code == 404


def test_wordpress_in_containers_installed_and_destroyed(docker_cp, docker_engine, mariadb_server):
    cp = docker_cp
    name = f"dwp-{uuid.uuid4().hex[:6]}"
    created = cp.cli(
        "site", "create", name, "--type", "wordpress", "--admin-email", "me@example.org", "--wait"
    )
    assert created.returncode == 0, created.stdout + created.stderr
    password = re.search(r"password (\S+) \(shown only now\)", created.stdout)
    assert password, created.stdout
    host = f"{name}.localhost:{cp.edge_port}"
    home = cp.edge_get(host)
    assert home.status_code == 200 and f"<title>{name}" in home.text, home.text[:300]
    WordPressInstaller(f"http://127.0.0.1:{cp.edge_port}").check_login(host, password.group(1))

    php = docker_engine.client.containers.get(naming.php_container(name))
    inspected = str(php.attrs)
    assert password.group(1) not in inspected and "DB_PASSWORD" not in inspected
    assert sorted(_docker_traces(docker_engine, name)) == sorted(
        [
            f"container {naming.php_container(name)}",
            f"container {naming.web_container(name)}",
            f"volume {naming.site_volume(name)}",
            f"network {naming.site_network(name)}",
        ]
    )

    destroyed = cp.cli("site", "destroy", name, "--wait")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert _docker_traces(docker_engine, name) == []
    assert db_traces(mariadb_server, name) == ([], [])


def test_names_a_stranger_holds_fail_the_site_and_are_left_alone(docker_cp, docker_engine):
    """A volume named like the site's that Hostplane did not make: the site goes FAILED at once
    (no retries) naming it; destroying the site leaves it; once it is gone, a retry works."""
    cp, client = docker_cp, docker_engine.client
    name = f"dfor-{uuid.uuid4().hex[:6]}"
    stranger = client.volumes.create(naming.site_volume(name), labels={"owner": "ops"})
    try:
        with cp.api() as api:
            posted = api.post("/v1/sites", json={"name": name, "type": "static"})
        op = cp.wait_operation(posted.json()["operation"]["id"], timeout=120)
        with cp.api() as api:
            site = api.get(f"/v1/sites/{name}").json()
        assert site["status"] == "FAILED" and op["status"] == "FAILED"
        assert f"Docker volume {stranger.name}" in site["last_error"]
        assert f"Docker volume {stranger.name} already exists" in op["error"]
        assert "someone outside Hostplane" in op["error"]
        runs = [s["status"] for s in op["steps"] if (s["name"], s["phase"]) == ("files", "apply")]
        assert runs == ["failed"], op["steps"]
        destroyed = cp.cli("site", "destroy", name, "--wait")
        assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
        stranger.reload()  # still there, the same volume
        assert stranger.attrs["Labels"] == {"owner": "ops"}
    finally:
        stranger.remove(force=True)


def test_docker_engine_unreachable_fails_cleanly_then_retry_succeeds(
    docker_engine, mariadb_server, tmp_path
):
    cp = ControlPlane(
        tmp_path / "data",
        extra_env={
            "HOSTPLANE_SITE_DB_URL": mariadb_server.url,
            "HOSTPLANE_DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock",
            "HOSTPLANE_RUNTIME": "docker",
        },
    ).start()
    name = f"dnoeng-{uuid.uuid4().hex[:6]}"
    try:
        with cp.api() as api:
            op_id = api.post("/v1/sites", json={"name": name, "type": "wordpress"}).json()[
                "operation"
            ]["id"]
        op = cp.wait_operation(op_id, timeout=120)
        assert op["status"] == "FAILED"
        assert "Docker engine at unix://" in op["error"] and "not reachable" in op["error"]
        assert db_traces(mariadb_server, name) == ([], [])  # the database step was undone
        assert _docker_traces(docker_engine, name) == []

        cp.stop()  # the operator fixes the engine address and restarts
        cp.extra_env["HOSTPLANE_DOCKER_HOST"] = docker_engine.host
        cp.start()
        retried = cp.cli("site", "retry", name, "--wait")
        assert retried.returncode == 0, retried.stdout + retried.stderr
        assert len(_docker_traces(docker_engine, name)) == 4
        destroyed = cp.cli("site", "destroy", name, "--wait")
        assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
        assert _docker_traces(docker_engine, name) == []
    finally:
        cp.stop()
        cp.clean_host()


@pytest.mark.parametrize(
    ("step", "phase", "request_bytes"),
    [
        ("files", "apply", b"/volumes/create"),
        ("app", "apply", b"name=php_"),
        ("web", "apply", b"name=nginx_"),
        ("web", "undo", b"DELETE /v"),
    ],
)
def test_sigkill_inside_a_docker_step_converges_after_restart(
    docker_engine, mariadb_server, tmp_path, step, phase, request_bytes
):
    proxy = UnixStallProxy(docker_engine.host.removeprefix("unix://"), tmp_path / "docker.sock")
    cp = ControlPlane(
        tmp_path / "data",
        extra_env={
            "HOSTPLANE_SITE_DB_URL": mariadb_server.url,
            "HOSTPLANE_DOCKER_HOST": proxy.host,
            "HOSTPLANE_RUNTIME": "docker",
        },
    ).start()
    name = f"dk{step[:3]}{phase[0]}-{uuid.uuid4().hex[:4]}"
    try:
        with cp.api() as api:
            if phase == "undo":
                op_id = api.post("/v1/sites", json={"name": name, "type": "wordpress"}).json()[
                    "operation"
                ]["id"]
                assert cp.wait_operation(op_id, timeout=120)["status"] == "SUCCEEDED"
                proxy.stall_on = request_bytes
                op_id = api.delete(f"/v1/sites/{name}").json()["operation"]["id"]
            else:
                proxy.stall_on = request_bytes
                op_id = api.post("/v1/sites", json={"name": name, "type": "wordpress"}).json()[
                    "operation"
                ]["id"]
        assert proxy.stalled.wait(60), f"the {step} step never reached the engine"
        time.sleep(0.2)
        cp.kill()
        proxy.release()
        cp.start()
        op = cp.wait_operation(op_id, timeout=120)
        assert op["status"] == "SUCCEEDED", op
        runs = [s["status"] for s in op["steps"] if (s["name"], s["phase"]) == (step, phase)]
        assert runs[0] == "running" and runs[-1] == "succeeded", op["steps"]
        traces = _docker_traces(docker_engine, name)
        if phase == "undo":
            assert traces == [] and db_traces(mariadb_server, name) == ([], [])
        else:
            assert sorted(traces) == sorted(
                [
                    f"container {naming.php_container(name)}",
                    f"container {naming.web_container(name)}",
                    f"volume {naming.site_volume(name)}",
                    f"network {naming.site_network(name)}",
                ]
            )
            page = cp.edge_get(f"{name}.localhost:{cp.edge_port}")
            assert page.status_code == 302 and "install.php" in page.headers["location"]
            destroyed = cp.cli("site", "destroy", name, "--wait")
            assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    finally:
        cp.stop()
        proxy.close()


def test_an_engine_reached_over_tcp_with_mutual_tls(docker_engine, mariadb_server, tmp_path):
    if docker_engine.tls_host is None:
        pytest.fail("the TLS test needs the private engine (unset HOSTPLANE_TEST_DOCKER_HOST)")
    cp = ControlPlane(
        tmp_path / "data",
        extra_env={
            "HOSTPLANE_SITE_DB_URL": mariadb_server.url,
            "HOSTPLANE_DOCKER_HOST": docker_engine.tls_host,
            "HOSTPLANE_DOCKER_TLS_DIR": docker_engine.tls_dir or "",
            "HOSTPLANE_RUNTIME": "docker",
        },
    ).start()
    name = f"dtls-{uuid.uuid4().hex[:6]}"
    try:
        created = cp.cli("site", "create", name, "--type", "php", "--wait")
        assert created.returncode == 0, created.stdout + created.stderr
        assert "PHP 8.2" in cp.edge_get(f"{name}.localhost").text
        destroyed = cp.cli("site", "destroy", name, "--wait")
        assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
        assert _docker_traces(docker_engine, name) == []
    finally:
        cp.stop()
