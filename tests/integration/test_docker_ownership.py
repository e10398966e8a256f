"""Two control planes on one real Docker engine (the private engine, the project's images): each
creates, destroys and prunes its own sites and never touches the other's objects; an object
named like a site's that another plane made, or nobody did, is refused on create and left as it
is by remove and prune; objects from before plane ids are taken over only by a plane whose
store predates them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from hostplane import naming
from hostplane.errors import ForeignResourceError
from hostplane.kernel.store.uow import Plane
from hostplane.providers import http_clients
from hostplane.providers.base import Outcome
from hostplane.providers.docker.marks import PLANE_LABEL
from hostplane.providers.docker.runtime import DockerRuntime, DockerRuntimeConfig
from hostplane.providers.runtime import RuntimeKind, SiteSpec, SiteType
from hostplane.services import docker_runtime_config
from hostplane.settings import Settings


def _runtime(host: str, run_dir: Path, owner: str, *, adopt: bool = False) -> DockerRuntime:
    return DockerRuntime(
        DockerRuntimeConfig(
            docker_host=host,
            tls_dir=None,
            php_image="hostplane/php-fpm:8.2",
            nginx_image="hostplane/nginx:1.22",
            memory="128m",
            cpus=0.5,
            run_dir=run_dir / owner,
            owner=owner,
            adopt_unmarked=adopt,
        )
    )


def _spec(prefix: str) -> SiteSpec:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    return SiteSpec(name, SiteType.PHP, RuntimeKind.DOCKER, f"{name}.localhost")


def _provision(runtime: DockerRuntime, spec: SiteSpec) -> list[Outcome]:
    return [runtime.ensure_files(spec, None), runtime.ensure_app(spec), runtime.ensure_web(spec)]


def _destroy(runtime: DockerRuntime, spec: SiteSpec) -> list[Outcome]:
    return [runtime.remove_web(spec), runtime.remove_app(spec), runtime.remove_files(spec)]


def _serves(runtime: DockerRuntime, spec: SiteSpec) -> bool:
    socket = runtime.site_run_dir(spec.name) / "web.sock"
    with http_clients.unix_socket_client(str(socket), timeout=5) as web:
        page = web.get("http://site/", headers={"Host": spec.hostname})
    return page.status_code == 200 and f"<h1>{spec.name}</h1>" in page.text


def _site_objects(spec: SiteSpec) -> list[tuple[str, str]]:
    """The site's objects, in the order a prune removes them (containers first)."""
    return [
        ("container", naming.php_container(spec.name)),
        ("container", naming.web_container(spec.name)),
        ("volume", naming.site_volume(spec.name)),
        ("network", naming.site_network(spec.name)),
    ]


def _ids(client: docker.DockerClient, spec: SiteSpec) -> dict[str, str]:
    """The engine's id of each of the site's objects that exists, by name."""
    found: dict[str, str] = {}
    collections = {"container": client.containers, "volume": client.volumes}
    for kind, name in _site_objects(spec):
        try:
            obj = collections.get(kind, client.networks).get(name)
        except docker.errors.NotFound:
            continue
        found[name] = obj.id
    return found


def _inventory(runtime: DockerRuntime) -> dict[str, Any]:
    inv = runtime.inventory()
    return {
        "containers": {n: (c.site, c.running) for n, c in inv.containers.items()},
        "volumes": inv.volumes,
        "networks": inv.networks,
    }


def _expected_inventory(*specs: SiteSpec) -> dict[str, Any]:
    return {
        "containers": {
            name: (s.name, True)
            for s in specs
            for name in (naming.php_container(s.name), naming.web_container(s.name))
        },
        "volumes": {naming.site_volume(s.name): s.name for s in specs},
        "networks": {naming.site_network(s.name): s.name for s in specs},
    }


@pytest.fixture
def planes(docker_engine, tmp_path) -> Iterator[tuple[DockerRuntime, DockerRuntime]]:
    owners = (f"hptesta{uuid.uuid4().hex[:6]}", f"hptestb{uuid.uuid4().hex[:6]}")
    yield (
        _runtime(docker_engine.host, tmp_path, owners[0]),
        _runtime(docker_engine.host, tmp_path, owners[1]),
    )
    _remove_labelled(docker_engine.client, *(f"{PLANE_LABEL}={o}" for o in owners))


def _remove_labelled(client: docker.DockerClient, *labels: str) -> None:
    for label in labels:
        for c in client.containers.list(all=True, filters={"label": label}):
            c.remove(force=True)
        for v in client.volumes.list(filters={"label": label}):
            v.remove(force=True)
        for n in client.networks.list(filters={"label": label}):
            n.remove()


def test_two_planes_create_destroy_and_prune_side_by_side(planes, docker_engine):
    a, b = planes
    a1, b1, b2 = _spec("oa"), _spec("ob"), _spec("oc")
    assert _provision(a, a1) == [Outcome.CREATED] * 3
    assert _provision(b, b1) == [Outcome.CREATED] * 3
    assert _provision(b, b2) == [Outcome.CREATED] * 3
    assert _provision(a, a1) == [Outcome.UNCHANGED] * 3
    assert _inventory(a) == _expected_inventory(a1)
    assert _inventory(b) == _expected_inventory(b1, b2)
    web = docker_engine.client.containers.get(naming.web_container(a1.name))
    assert web.labels[PLANE_LABEL] == a.config.owner
    b_ids = _ids(docker_engine.client, b1)

    for kind, name in _site_objects(b1):  # A may not prune B's objects
        with pytest.raises(ForeignResourceError, match=f"{name} .*{b.config.owner}"):
            a.prune(kind, name)
    assert _destroy(a, b1) == [Outcome.ABSENT] * 3  # nor remove them as if they were its site's

    assert _destroy(a, a1) == [Outcome.DELETED] * 3
    assert _ids(docker_engine.client, a1) == {}
    for kind, name in _site_objects(b2):  # B prunes what it no longer wants
        assert b.prune(kind, name) == Outcome.DELETED
    assert _ids(docker_engine.client, b2) == {}
    assert _inventory(a) == _expected_inventory()
    assert _inventory(b) == _expected_inventory(b1)
    assert _ids(docker_engine.client, b1) == b_ids and _serves(b, b1)
    assert _destroy(b, b1) == [Outcome.DELETED] * 3
    assert _ids(docker_engine.client, b1) == {}


def test_a_site_name_another_plane_has_is_refused_and_left_alone(planes, docker_engine):
    a, b = planes
    spec = _spec("os")
    _provision(a, spec)
    before = _ids(docker_engine.client, spec)
    with pytest.raises(ForeignResourceError, match=f"volume wp_{spec.name} .*{a.config.owner}"):
        b.ensure_files(spec, None)
    with pytest.raises(ForeignResourceError, match=f"container php_{spec.name} "):
        b.ensure_app(spec)  # the same config as A's: still not B's to take
    with pytest.raises(ForeignResourceError, match=f"container nginx_{spec.name} "):
        b.ensure_web(spec)
    assert _destroy(b, spec) == [Outcome.ABSENT] * 3
    assert b.inventory().containers == {}
    assert _ids(docker_engine.client, spec) == before and _serves(a, spec)
    assert _destroy(a, spec) == [Outcome.DELETED] * 3


def test_objects_nobody_marked_are_refused_on_create_and_never_removed(planes, docker_engine):
    a, _ = planes
    client = docker_engine.client
    by_volume, by_network, by_containers = _spec("nv"), _spec("nn"), _spec("nc")
    network = client.networks.create(naming.site_network(by_network.name))
    strangers = [
        client.volumes.create(naming.site_volume(by_volume.name)),
        *(
            client.containers.create("hostplane/nginx:1.22", name=name, command=["true"])
            for name in (
                naming.php_container(by_containers.name),
                naming.web_container(by_containers.name),
            )
        ),
    ]
    try:
        outside = "someone outside Hostplane"
        with pytest.raises(ForeignResourceError, match=f"volume wp_{by_volume.name} .*{outside}"):
            a.ensure_files(by_volume, None)
        with pytest.raises(ForeignResourceError, match=f"network hp_{by_network.name} "):
            a.ensure_app(by_network)
        with pytest.raises(ForeignResourceError, match=f"network hp_{by_network.name} "):
            a.ensure_web(by_network)
        for step in (a.ensure_app, a.ensure_web):
            with pytest.raises(ForeignResourceError, match=f"container .*_{by_containers.name} "):
                step(by_containers)
        # refused before anything was made: no network of ours for the site
        assert client.networks.list(names=[naming.site_network(by_containers.name)]) == []
        for spec in (by_volume, by_network, by_containers):
            assert _destroy(a, spec) == [Outcome.ABSENT] * 3
            for kind, name in _site_objects(spec):
                if name in {s.name for s in [*strangers, network]}:
                    with pytest.raises(ForeignResourceError):
                        a.prune(kind, name)
        assert _inventory(a) == _expected_inventory()
        for obj in [*strangers, network]:
            obj.reload()  # each still there, the same object
    finally:
        for obj in strangers:
            obj.remove(force=True)
        network.remove()


def test_objects_from_before_plane_ids_are_taken_over_only_by_a_plane_that_predates_them(
    docker_engine, tmp_path
):
    client = docker_engine.client
    spec = _spec("op")
    old = {naming.MANAGED_LABEL: "true", naming.SITE_LABEL: spec.name}
    volume = client.volumes.create(naming.site_volume(spec.name), labels=old)
    client.networks.create(naming.site_network(spec.name), labels=old)
    client.containers.run(
        "hostplane/php-fpm:8.2",
        ["sh", "-c", "echo kept > /v/marker"],
        volumes={volume.name: {"bind": "/v", "mode": "rw"}},
        remove=True,
    )
    client.containers.create(
        "hostplane/php-fpm:8.2", name=naming.php_container(spec.name), labels=old
    )
    before = _ids(client, spec)
    newer = _runtime(docker_engine.host, tmp_path, f"hptestn{uuid.uuid4().hex[:6]}")
    older = _runtime(docker_engine.host, tmp_path, f"hptesto{uuid.uuid4().hex[:6]}", adopt=True)
    try:
        with pytest.raises(ForeignResourceError, match="a Hostplane from before plane ids"):
            newer.ensure_files(spec, None)
        assert _inventory(newer) == _expected_inventory()
        assert _destroy(newer, spec) == [Outcome.ABSENT] * 3
        assert _ids(client, spec) == before

        seen = older.inventory()
        assert seen.volumes == {volume.name: spec.name}
        assert seen.networks == {naming.site_network(spec.name): spec.name}
        assert set(seen.containers) == {naming.php_container(spec.name)}
        assert _provision(older, spec) == [Outcome.UPDATED, Outcome.UPDATED, Outcome.CREATED]
        assert _serves(older, spec)
        after = _ids(client, spec)
        assert after[volume.name] == before[volume.name]  # the data stays: never recreated
        php = client.containers.get(naming.php_container(spec.name))
        assert after[php.name] != before[php.name] and php.labels[PLANE_LABEL] == older.config.owner
        marker = php.exec_run(["cat", "/var/www/html/marker"])
        assert marker.exit_code == 0 and marker.output == b"kept\n"
        assert _destroy(older, spec) == [Outcome.DELETED] * 3
        assert _ids(client, spec) == {}
    finally:
        _remove_labelled(client, f"{naming.SITE_LABEL}={spec.name}")


def test_services_give_the_runtime_the_planes_identity(tmp_path):
    settings = Settings.load(data_dir=tmp_path)
    config = docker_runtime_config(settings, None, Plane("hpwired", predates_marks=True))
    assert (config.owner, config.adopt_unmarked) == ("hpwired", True)
    config = docker_runtime_config(settings, None, Plane("hpfresh"))
    assert (config.owner, config.adopt_unmarked) == ("hpfresh", False)
    assert docker_runtime_config(settings, None).owner == ""  # doctor: looks, owns nothing
