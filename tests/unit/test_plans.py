"""One skeleton for every site type and runtime: which steps run, and which are undone."""

from __future__ import annotations

import pytest

from hostplane.kinds.site.model import Step, destroy_plan, provision_plan
from hostplane.providers.runtime import RuntimeKind, SiteSpec, SiteType

L, DK = RuntimeKind.LOCAL, RuntimeKind.DOCKER


def spec(t, r, email=None):
    return SiteSpec(name="s", type=t, runtime=r, hostname="s.localhost", admin_email=email)


@pytest.mark.parametrize(
    ("site", "steps"),
    [
        (spec(SiteType.STATIC, L), ["files", "edge", "confirm"]),
        (spec(SiteType.STATIC, DK), ["files", "web", "edge", "confirm"]),
        (spec(SiteType.PHP, L), ["files", "app", "edge", "confirm"]),
        (spec(SiteType.WORDPRESS, L), ["database", "files", "app", "edge", "confirm"]),
        (
            spec(SiteType.WORDPRESS, DK, "a@b.org"),
            ["database", "files", "app", "web", "edge", "confirm", "install"],
        ),
    ],
)
def test_provision_plan(site, steps):
    assert [s.value for s in provision_plan(site)] == steps


def test_destroy_removes_domains_first_then_reverses_what_leaves_something_behind():
    site = spec(SiteType.WORDPRESS, DK, "a@b.org")
    assert destroy_plan(site) == (
        Step.DOMAINS,
        Step.EDGE,
        Step.WEB,
        Step.APP,
        Step.FILES,
        Step.DATABASE,
    )
