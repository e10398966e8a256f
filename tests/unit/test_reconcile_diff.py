"""The reconciler's diff (pure): every difference classified, nothing live ever an orphan,
sites at work and unobservable providers left alone."""

from __future__ import annotations

from hostplane.kernel.drift import PRUNE, REPAIR, FindingKind, counts
from hostplane.kinds.site.drift import (
    REGENERATE_EDGE,
    DesiredSite,
    Expectations,
    Observed,
    diff,
)
from hostplane.kinds.site.model import Step
from hostplane.providers.docker.runtime import ObservedContainer
from hostplane.providers.runtime import RuntimeKind, SiteType

EXPECT = Expectations("php:1", "nginx:1")
WP, STATIC = SiteType.WORDPRESS, SiteType.STATIC
LOCAL, DOCKER = RuntimeKind.LOCAL, RuntimeKind.DOCKER


def _docker_ok(*sites: str) -> dict[str, ObservedContainer]:
    found = {}
    for s in sites:
        found[f"php_{s}"] = ObservedContainer(f"php_{s}", s, True, "php:1")
        found[f"nginx_{s}"] = ObservedContainer(f"nginx_{s}", s, True, "nginx:1")
    return found


def _in_sync(**over: object) -> Observed:
    base: dict[str, object] = {
        "edge_in_sync": True,
        "edge_routes": frozenset({"site-a", "site-d"}),
        "containers": _docker_ok("d"),
        "volumes": {"wp_d": "d"},
        "networks": {"hp_d": "d"},
        "databases": frozenset({"wp_a", "wp_d"}),
        "database_users": frozenset({"wp_a", "wp_d"}),
        "webroots": frozenset({"a"}),
        "pools": {"a": True},
    }
    return Observed(**(base | over))  # type: ignore[arg-type]


SITES = [DesiredSite("a", WP, LOCAL, "ACTIVE"), DesiredSite("d", WP, DOCKER, "ACTIVE")]


def _kinds(findings):
    return {(f.kind, f.resource, f.action) for f in findings}


def test_everything_in_place_is_no_finding():
    assert diff(SITES, _in_sync(), EXPECT) == []


def test_stopped_wrong_image_and_missing_containers_are_repaired_by_their_step():
    containers = _docker_ok("d")
    containers["php_d"] = ObservedContainer("php_d", "d", False, "php:1")
    containers["nginx_d"] = ObservedContainer("nginx_d", "d", True, "nginx:0")
    found = diff(SITES, _in_sync(containers=containers), EXPECT)
    assert {(f.kind, f.resource, f.step) for f in found} == {
        (FindingKind.DRIFTED, "container:php_d", Step.APP),
        (FindingKind.DRIFTED, "container:nginx_d", Step.WEB),
    }
    del containers["php_d"]
    found = diff(SITES, _in_sync(containers=containers), EXPECT)
    assert (FindingKind.MISSING, "container:php_d", REPAIR) in _kinds(found)


def test_local_pieces_and_databases_missing_or_stopped():
    observed = _in_sync(webroots=frozenset(), pools={"a": False}, databases=frozenset({"wp_d"}))
    assert _kinds(diff(SITES, observed, EXPECT)) == {
        (FindingKind.MISSING, "webroot:a", REPAIR),
        (FindingKind.DRIFTED, "php-pool:a", REPAIR),
        (FindingKind.MISSING, "database:wp_a", REPAIR),
    }


def test_orphans_are_marked_resources_of_no_live_site_and_only_pruned():
    observed = _in_sync(
        containers=_docker_ok("d", "gone"),
        volumes={"wp_d": "d", "wp_gone": "gone", "wp_kept": "kept"},
        networks={"hp_d": "d", "hp_gone": "gone"},
        databases=frozenset({"wp_a", "wp_d", "wp_gone", "wp_kept"}),
        database_users=frozenset({"wp_a", "wp_d", "wp_gone", "wp_kept"}),
        webroots=frozenset({"a", "gone", "kept"}),
        pools={"a": True, "gone": False},
    )
    expect = Expectations("php:1", "nginx:1", kept=frozenset({"kept"}))
    found = diff(SITES, observed, expect)
    assert all(f.kind is FindingKind.ORPHANED and f.action == PRUNE for f in found)
    assert {f.resource for f in found} == {
        "container:php_gone",
        "container:nginx_gone",
        "volume:wp_gone",
        "network:hp_gone",
        "database:wp_gone",
        "database-user:wp_gone",
        "webroot:gone",
        "php-pool:gone",
    }  # the kept site's data is not an orphan
    assert counts(found) == {"missing": 0, "drifted": 0, "orphaned": 8, "lost": 0}


def test_sites_at_work_failed_or_provisioning_are_neither_missing_nor_orphaned():
    sites = [
        DesiredSite("a", WP, LOCAL, "ACTIVE", busy=True),
        DesiredSite("d", WP, DOCKER, "PROVISIONING"),
    ]
    observed = _in_sync(containers={}, webroots=frozenset(), volumes={}, pools={})
    assert diff(sites, observed, EXPECT) == []


def test_an_unobservable_provider_concludes_nothing():
    observed = _in_sync(containers=None, volumes=None, networks=None, databases=None)
    assert diff(SITES, observed, EXPECT) == []


def test_edge_out_of_sync_names_missing_and_foreign_routes_and_regenerates():
    observed = _in_sync(edge_in_sync=False, edge_routes=frozenset({"site-d", "site-old"}))
    assert _kinds(diff(SITES, observed, EXPECT)) == {
        (FindingKind.MISSING, "edge-route:site-a", REGENERATE_EDGE),
        (FindingKind.ORPHANED, "edge-route:site-old", REGENERATE_EDGE),
    }
    edited = _in_sync(edge_in_sync=False)
    assert _kinds(diff(SITES, edited, EXPECT)) == {
        (FindingKind.DRIFTED, "edge-config", REGENERATE_EDGE)
    }


def test_static_docker_sites_need_no_php_container():
    sites = [DesiredSite("s", STATIC, DOCKER, "ACTIVE")]
    observed = _in_sync(
        edge_routes=frozenset({"site-s"}),
        containers={"nginx_s": ObservedContainer("nginx_s", "s", True, "nginx:1")},
        volumes={"wp_s": "s"},
        networks={"hp_s": "s"},
        databases=frozenset(),
        database_users=frozenset(),
        webroots=frozenset(),
        pools={},
    )
    assert diff(sites, observed, EXPECT) == []
