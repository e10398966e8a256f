"""Faults injected by hand into Docker sites on a real engine (real Caddy, the project's own
images), seen by `hostctl drift` and repaired by `hostctl reconcile`; orphans with Hostplane's
labels pruned, anything without them never touched."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from hostplane import naming
from hostplane.providers.docker.marks import PLANE_LABEL
from tests.e2e.harness import ControlPlane
from tests.fixtures_docker import plane_id
from tests.services_mariadb import PrivateMariaDB


@pytest.fixture(scope="module")
def own_mariadb() -> Iterator[PrivateMariaDB]:
    server = PrivateMariaDB().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cp(
    docker_engine, own_mariadb, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    plane = ControlPlane(
        tmp_path_factory.mktemp("docker-faults") / "data",
        extra_env={
            "HOSTPLANE_SITE_DB_URL": own_mariadb.url,
            "HOSTPLANE_DOCKER_HOST": docker_engine.host,
            "HOSTPLANE_RUNTIME": "docker",
        },
    ).start()
    for name, kind in (("dstat", "static"), ("dphp", "php")):
        created = plane.cli("site", "create", name, "--type", kind, "--wait")
        assert created.returncode == 0, created.stdout + created.stderr
    yield plane
    for name in ("dstat", "dphp"):  # the engine is shared: leave nothing to later modules
        plane.cli("site", "destroy", name, "--wait", timeout=300)
    plane.stop()
    plane.clean_host()


def _drift(cp: ControlPlane) -> list[dict[str, Any]]:
    result = cp.cli("drift", "--json")
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


def _reconcile(cp: ControlPlane, *args: str) -> list[dict[str, Any]]:
    result = cp.cli("reconcile", "--json", *args, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return list(json.loads(result.stdout))


def _converged(cp: ControlPlane) -> None:
    assert cp.edge_get("dstat.localhost").status_code == 200
    assert cp.edge_get("dphp.localhost").status_code == 200
    assert _drift(cp) == []
    assert _reconcile(cp) == []


def test_a_container_stopped_by_hand_is_started(cp, docker_engine):
    """Broke: docker stop of dphp's PHP container. Verified: drift says it is stopped;
    reconcile starts it again; dphp serves."""
    docker_engine.client.containers.get(naming.php_container("dphp")).stop(timeout=1)
    assert [(f["kind"], f["resource"], f["detail"]) for f in _drift(cp)] == [
        ("drifted", "container:php_dphp", "container is stopped")
    ]
    assert _reconcile(cp)[0]["result"] == "repaired"
    _converged(cp)


def test_a_container_removed_by_hand_is_recreated_from_its_volume(cp, docker_engine):
    """Broke: docker rm -f of dstat's nginx container. Verified: drift reports it missing;
    reconcile recreates it on the site's volume; dstat serves its page."""
    docker_engine.client.containers.get(naming.web_container("dstat")).remove(force=True)
    assert [(f["kind"], f["resource"]) for f in _drift(cp)] == [
        ("missing", "container:nginx_dstat")
    ]
    assert _reconcile(cp)[0]["result"] == "repaired"
    _converged(cp)


def test_labelled_orphans_are_pruned_and_unlabelled_things_never_touched(cp, docker_engine):
    """Broke: created a container, a volume and a network labelled as this plane's for a site
    that does not exist; the same for a site 'stray' labelled as Hostplane's but no plane's
    (another plane's from before plane ids), or with no labels at all; and an unlabelled
    container. Verified: only this plane's are orphaned, removed only with --prune; the others
    are never reported and still there."""
    client = docker_engine.client
    labels = {naming.MANAGED_LABEL: "true", naming.SITE_LABEL: "ghost"}
    ours = {**labels, PLANE_LABEL: plane_id(cp.data_dir)}
    client.volumes.create("wp_ghost", labels=ours)
    client.networks.create("hp_ghost", labels=ours)
    client.containers.create(
        "hostplane/nginx:1.22", name="nginx_ghost", labels=ours, command=["true"]
    )
    unplaned = {naming.MANAGED_LABEL: "true", naming.SITE_LABEL: "stray"}
    strangers = [
        client.volumes.create("wp_stray", labels=unplaned),
        client.networks.create("hp_stray"),
        client.containers.create(
            "hostplane/nginx:1.22", name="nginx_stray", labels=unplaned, command=["true"]
        ),
        client.containers.create("hostplane/php-fpm:8.2", name="php_stray", command=["true"]),
        client.containers.create("hostplane/nginx:1.22", name="operators-own", command=["true"]),
    ]
    try:
        expected = {"container:nginx_ghost", "volume:wp_ghost", "network:hp_ghost"}
        found = _drift(cp)
        assert {f["resource"] for f in found} == expected
        assert {(f["kind"], f["action"], f["site"]) for f in found} == {
            ("orphaned", "prune", "ghost")
        }
        assert {f["result"] for f in _reconcile(cp)} == {None}
        pruned = _reconcile(cp, "--prune")
        assert {f["resource"]: f["result"] for f in pruned} == dict.fromkeys(expected, "deleted")
        for obj in strangers:
            obj.reload()  # still there, the same object
        _converged(cp)
    finally:
        for obj in strangers:
            obj.remove(**({} if obj.name == "hp_stray" else {"force": True}))
