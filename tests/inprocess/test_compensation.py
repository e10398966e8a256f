"""A step that fails permanently undoes the started steps in reverse, and the site is FAILED
with the provider's answer; a retry then provisions it.

Providers are fakes: this tier tests the kernel's saga and the site kind's hooks."""

from __future__ import annotations

from hostplane.errors import PermanentError
from hostplane.kinds.site import secrets as site_secrets
from tests.inprocess.helpers import EMAIL, create_site, destroy_site, retry_site
from tests.inprocess.plane import Plane

HOST = "shop.localhost"
REFUSAL = PermanentError(
    f"WordPress at {HOST} did not finish its install (HTTP 500)", detail="database error"
)


def test_a_failure_at_step_n_undoes_steps_n_to_1_in_reverse(plane: Plane):
    """Providers are fakes. The last step (install) fails: the started steps are undone in
    reverse, those with no undo (install, confirm) skipped; FAILED with the provider's
    message in the operation's error and the site's last error."""
    journal = plane.world.journal
    journal.fail("installer.install", lambda: REFUSAL)
    created = create_site(plane.services, type="wordpress", email=EMAIL)
    op_id = created.submitted.operation_id
    assert plane.run(created.submitted) == "FAILED"

    assert journal.count("installer.install") == 1  # a PermanentError is not retried
    after_failure = journal.names()[journal.names().index("installer.install") + 1 :]
    assert after_failure == [
        "edge.apply",  # edge undone: the route gone,
        "edge.apply",
        "edge.confirm_gone",  # and seen gone
        "runtime.remove_app",
        "runtime.remove_files",
        "databases.remove_database",
    ]
    assert [s for s in plane.steps(op_id) if s[1] == "undo"] == [
        ("edge", "undo", "succeeded", "deleted"),
        ("app", "undo", "succeeded", "deleted"),
        ("files", "undo", "succeeded", "deleted"),
        ("database", "undo", "succeeded", "deleted"),
    ]
    assert ("install", "apply", "failed", None) in plane.steps(op_id)
    message = str(REFUSAL)  # the message with the provider's answer
    op = plane.operation(op_id)
    assert (op.status, op.error, op.active_target) == ("FAILED", message, None)
    site = plane.site("shop")
    assert (site.status, site.last_error, site.routed) == ("FAILED", message, False)
    assert plane.events(site.id)[1:] == [("CREATED", "PROVISIONING"), ("PROVISIONING", "FAILED")]
    assert plane.world.state() == ({}, plane.world.edge.state, {}, {}, {})
    assert plane.world.edge.hosts() == []


def test_a_failed_site_is_provisioned_by_a_retry(plane: Plane):
    """Providers are fakes. After the compensated failure a retry runs the whole plan again
    and the site is ACTIVE, its WordPress installed with the admin password the create
    request answered."""
    plane.world.journal.fail("installer.install", lambda: REFUSAL)
    created = create_site(plane.services, type="wordpress", email=EMAIL)
    assert plane.run(created.submitted) == "FAILED"

    retry = retry_site(plane.services)
    assert retry.kind == "retry"
    assert plane.run(retry) == "SUCCEEDED"
    site = plane.site("shop")
    assert (site.status, site.last_error) == ("ACTIVE", None)
    assert plane.events(site.id)[-2:] == [("FAILED", "PROVISIONING"), ("PROVISIONING", "ACTIVE")]
    assert plane.world.runtime.holds() == {"shop": (True, True)}
    assert plane.world.installer.installed == {HOST: created.admin_password}


def test_a_failing_undo_is_recorded_and_the_others_still_run(plane: Plane):
    """Providers are fakes. Compensation goes on past an undo that fails, and the error
    says which undo failed and why, after the step's own failure."""
    journal = plane.world.journal
    journal.fail("edge.confirm", lambda: PermanentError(f"the edge does not serve {HOST}"))
    journal.fail("runtime.remove_app", lambda: PermanentError("php-fpm would not stop"))
    sub = create_site(plane.services).submitted
    assert plane.run(sub) == "FAILED"
    assert journal.names("runtime.remove")[-2:] == ["runtime.remove_app", "runtime.remove_files"]
    assert plane.operation(sub.operation_id).error == (
        f"the edge does not serve {HOST}; undo of app failed: php-fpm would not stop"
    )


def test_destroying_a_failed_site_removes_what_is_left_and_its_secrets(plane: Plane):
    """Providers are fakes. A FAILED WordPress site (never installed) is destroyed: every
    undo runs (finding nothing left), and none of its secrets stays behind, its admin
    password neither."""
    plane.world.journal.fail("installer.install", lambda: REFUSAL)
    created = create_site(plane.services, type="wordpress", email=EMAIL)
    assert plane.run(created.submitted) == "FAILED"
    site_id = plane.site("shop").id
    assert list(secrets_of(plane, site_id)) == [site_secrets.WP_ADMIN_PASSWORD]

    assert plane.run(destroy_site(plane.services)) == "SUCCEEDED"
    assert plane.site("shop").status == "DESTROYED"
    assert secrets_of(plane, site_id) == {}
    assert ("site.destroyed", "shop", "allowed") in plane.audit()


def secrets_of(plane: Plane, site_id: str) -> dict[str, str]:
    with plane.store.unit_of_work() as uow:
        found = uow.secrets.for_owners(site_secrets.OWNER, [site_id], site_secrets.ALL)
    return found.get(site_id, {})


def test_a_destroy_that_stops_at_a_step_is_finished_by_a_retry(plane: Plane):
    """Providers are fakes. A destroy stops at the files (no compensation for a teardown):
    FAILED with the step's error; the retry runs the destroy again, each undo finding what
    was already removed absent, and the site is DESTROYED."""
    assert plane.run(create_site(plane.services).submitted) == "SUCCEEDED"
    journal = plane.world.journal
    journal.fail("runtime.remove_files", lambda: PermanentError("the webroot is busy"))
    first = destroy_site(plane.services)
    assert plane.run(first) == "FAILED"
    error = "destroy stopped at a step: the webroot is busy"
    assert plane.operation(first.operation_id).error == error
    site = plane.site("shop")
    assert (site.status, site.last_error) == ("FAILED", error)

    retry = retry_site(plane.services)
    assert retry.kind == "destroy"
    assert plane.run(retry) == "SUCCEEDED"
    assert [s[3] for s in plane.steps(retry.operation_id)] == [
        "absent",  # domains
        "absent",  # edge
        "absent",  # app
        "deleted",  # files
    ]
    assert plane.site("shop").status == "DESTROYED"
    assert plane.world.runtime.holds() == {}
