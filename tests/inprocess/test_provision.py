"""A provision applies its plan's steps in order, records each, and ends ACTIVE.

Providers are fakes (tests/inprocess/fakes.py): this tier tests the kernel's saga and the
kinds' hooks; the real-system tiers test the providers."""

from __future__ import annotations

from hostplane.kinds.site import secrets as site_secrets
from tests.inprocess.helpers import EMAIL, create_site
from tests.inprocess.plane import Plane

HOST = "shop.localhost"


def test_a_provision_applies_the_plan_in_order_and_ends_active(plane: Plane):
    """Providers are fakes. A WordPress site with an admin email runs every step of the
    local plan, once each, in order; one operation; events CREATED → PROVISIONING → ACTIVE;
    a record with the outcome of every step."""
    created = create_site(plane.services, type="wordpress", email=EMAIL)
    op_id = created.submitted.operation_id
    assert plane.run(created.submitted) == "SUCCEEDED"

    assert plane.world.journal.names() == [
        "databases.ensure_database",
        "databases.check_login",
        "accounts.ensure",  # the tenant made for the site: its account,
        "sftp.apply_user",  # which may then log in over SFTP
        "runtime.ensure_files",
        "runtime.ensure_app",
        "edge.apply",  # loads the new state,
        "edge.apply",  # then re-reads the database and finds nothing newer
        "edge.confirm",  # whose answer is the page judged
        "installer.install",
        "installer.check_login",
    ]
    assert plane.steps(op_id) == [
        ("database", "apply", "succeeded", "created"),
        ("files", "apply", "succeeded", "created"),
        ("app", "apply", "succeeded", "created"),
        ("edge", "apply", "succeeded", "created"),
        ("confirm", "apply", "succeeded", "unchanged"),
        ("install", "apply", "succeeded", "created"),
    ]
    [op] = plane.operations()
    assert (op.id, op.kind, op.status, op.error) == (op_id, "provision", "SUCCEEDED", None)
    assert op.started_at is not None and op.finished_at is not None
    assert op.active_target is None  # the site's slot is free again
    site = plane.site("shop")
    assert (site.status, site.routed, site.last_error) == ("ACTIVE", True, None)
    assert plane.events(site.id) == [
        (None, "CREATED"),
        ("CREATED", "PROVISIONING"),
        ("PROVISIONING", "ACTIVE"),
    ]
    # What the fakes hold: the route, the files and process, the database, WordPress
    # installed with the password the request answered (and then forgotten).
    assert plane.world.edge.hosts() == [HOST]
    assert plane.world.runtime.holds() == {"shop": (True, True)}
    assert plane.world.installer.installed == {HOST: created.admin_password}
    assert site_secrets.get(plane.services, site.id, site_secrets.WP_ADMIN_PASSWORD) is None


def test_a_static_site_runs_the_shorter_plan(plane: Plane):
    """Providers are fakes. A static site has no database, no process and no install."""
    sub = create_site(plane.services, "docs", type="static").submitted
    assert plane.run(sub) == "SUCCEEDED"
    assert [s[0] for s in plane.steps(sub.operation_id)] == ["files", "edge", "confirm"]
    assert plane.site("docs").status == "ACTIVE"
