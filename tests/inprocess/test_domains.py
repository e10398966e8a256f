"""Custom domains: proven by DNS (re-checked while not yet right), routed, removed; an addition
waiting for DNS is superseded by a removal or by its site's destroy, which removes the
site's domains through the domain kind's own teardown before the site's resources.

Providers are fakes (DNS answers what the test points it at): this tier tests the kernel's
saga, the domain kind's workflow and the site's extension points."""

from __future__ import annotations

import pytest

from hostplane.errors import ConflictError, PermanentError
from hostplane.kernel.operations import Submitted
from tests.inprocess.helpers import add_domain, create_site, destroy_site, remove_domain
from tests.inprocess.plane import Failpoints, Gate, Plane, eventually

WWW, NEW = "www.shop.example", "new.shop.example"
SUPERSEDED = "superseded: removal requested by tester"


@pytest.fixture
def shop(plane: Plane) -> Plane:
    """An ACTIVE php site, shop."""
    assert plane.run(create_site(plane.services).submitted) == "SUCCEEDED"
    plane.world.journal.clear()
    return plane


def test_a_domain_with_dns_right_is_routed_and_active(shop: Plane):
    """Providers are fakes. DNS points at the platform: checked once, routed to the site's
    route and confirmed there; PENDING → VALIDATING → ROUTING → ACTIVE."""
    shop.world.dns.point(WWW)
    sub = add_domain(shop.services, WWW)
    assert shop.run(sub) == "SUCCEEDED"
    domain = shop.domain(WWW)
    assert (domain.status, domain.last_error) == ("ACTIVE", None)
    assert shop.events(domain.id) == [
        (None, "PENDING"),
        ("PENDING", "VALIDATING"),
        ("VALIDATING", "ROUTING"),
        ("ROUTING", "ACTIVE"),
    ]
    assert shop.world.journal.names() == ["dns.lookup", "edge.apply", "edge.apply", "edge.confirm"]
    assert shop.world.edge.route_for(WWW) == shop.world.edge.route_for("shop.localhost")
    assert [s[0] for s in shop.steps(sub.operation_id)] == ["dns", "route"]


def test_a_domain_waits_for_its_dns_then_goes_active(shop: Plane):
    """Providers are fakes. DNS is not right at first: the workflow sleeps durably and
    checks again (back to PENDING each time, the explanation in last_error) until it is."""
    sub = add_domain(shop.services, WWW)
    shop.submit(sub)
    eventually(lambda: shop.world.journal.count("dns.lookup") >= 3)
    assert shop.domain(WWW).last_error.startswith("DNS is not right yet")
    shop.world.dns.point(WWW)
    assert shop.wait(sub.operation_id) == "SUCCEEDED"
    domain = shop.domain(WWW)
    assert (domain.status, domain.last_error) == ("ACTIVE", None)
    assert ("VALIDATING", "PENDING") in shop.events(domain.id)
    assert shop.world.edge.serves(WWW)


@pytest.mark.parametrize("cancel", [False, True], ids=["left-to-notice", "cancelled"])
def test_a_removal_supersedes_an_addition_waiting_for_dns(
    shop: Plane, points: Failpoints, cancel: bool
):
    """Providers are fakes. An addition waits for DNS (held before its second check); a
    removal is requested: the addition's operation ends (FAILED, superseded) and its
    workflow, told to stop (cancelled, as the API does) or not, checks DNS no more and
    ends 'superseded'; the removal runs and the domain is REMOVED."""
    gate = points.hold_at("dns.apply.before", nth=2)
    add = add_domain(shop.services, WWW)
    shop.submit(add)
    gate.wait_reached()
    assert shop.domain(WWW).status == "PENDING"

    removal = remove_domain(shop.services, WWW)
    assert removal.cancel == (add.operation_id,)
    if cancel:
        shop.submit(removal)  # cancels the superseded workflow, then submits
    else:
        shop.engine.submit(removal.operation_id, removal.kind)
    assert shop.wait(removal.operation_id) == "SUCCEEDED"
    gate.open()
    if cancel:
        assert shop.ended(add.operation_id) == "CANCELLED"
    else:
        assert shop.wait(add.operation_id) == "superseded"

    assert shop.world.journal.count("dns.lookup") == 1
    op = shop.operation(add.operation_id)
    assert (op.status, op.error, op.active_target) == ("FAILED", SUPERSEDED, None)
    domain = shop.domain(WWW)
    assert domain.status == "REMOVED"
    assert shop.events(domain.id)[-2:] == [("PENDING", "REMOVING"), ("REMOVING", "REMOVED")]
    assert [s[:2] for s in shop.steps(removal.operation_id)] == [
        ("certificate", "undo"),
        ("route", "undo"),
    ]
    assert ("domain.removed", WWW, "allowed") in shop.audit()


def test_a_removal_waits_while_the_addition_is_checking_dns(shop: Plane):
    """Providers are fakes. While the addition asks the resolvers (VALIDATING), a removal
    is refused (409) naming the addition; once the check has answered 'not yet' (PENDING
    again), the removal supersedes it."""
    gate = Gate()
    shop.world.journal.when("dns.lookup", gate)
    add = add_domain(shop.services, WWW)
    shop.submit(add)
    gate.wait_reached()
    assert shop.domain(WWW).status == "VALIDATING"
    with pytest.raises(ConflictError, match=f"operation {add.operation_id} .* at work"):
        remove_domain(shop.services, WWW)
    gate.open()
    accepted: list[Submitted] = []

    def retry_removal() -> bool:  # as a client retries a 409
        try:
            accepted.append(remove_domain(shop.services, WWW))
        except ConflictError:
            return False
        return True

    eventually(retry_removal)  # between two checks the domain is PENDING: supersedable
    [removal] = accepted
    shop.submit(removal)
    assert shop.wait(removal.operation_id) == "SUCCEEDED"
    assert shop.operation(add.operation_id).error == SUPERSEDED
    assert shop.domain(WWW).status == "REMOVED"


def test_an_addition_superseded_before_its_workflow_began_runs_nothing(shop: Plane):
    """Providers are fakes. The removal is recorded before the addition's workflow started
    (a busy queue): the addition's workflow begins, finds its operation over, and ends
    'superseded' without a DNS check; the removal runs."""
    add = add_domain(shop.services, WWW)
    removal = remove_domain(shop.services, WWW)
    assert shop.run(add) == "superseded"
    assert shop.run(removal) == "SUCCEEDED"
    assert shop.world.journal.count("dns.lookup") == 0
    assert shop.steps(add.operation_id) == []
    assert shop.domain(WWW).status == "REMOVED"


def test_a_site_destroy_supersedes_a_waiting_addition_and_removes_domains_first(
    shop: Plane, points: Failpoints
):
    """Providers are fakes. The site has an ACTIVE domain and one waiting for DNS. Its
    destroy stops the waiting addition (site.before_teardown) and removes both domains
    through the domain kind (site.teardown) — their routes gone and seen gone — before
    the site's own route, process and files."""
    shop.world.dns.point(WWW)
    assert shop.run(add_domain(shop.services, WWW)) == "SUCCEEDED"
    gate = points.hold_at("dns.apply.before", nth=2)
    waiting = add_domain(shop.services, NEW)
    shop.submit(waiting)
    gate.wait_reached()
    journal = shop.world.journal
    journal.clear()

    destroy = destroy_site(shop.services)
    assert destroy.cancel == (waiting.operation_id,)
    assert shop.run(destroy) == "SUCCEEDED"
    gate.open()
    assert shop.ended(waiting.operation_id) == "CANCELLED"

    order = [
        journal.index("edge.confirm_gone", NEW),
        journal.index("edge.confirm_gone", WWW),
        journal.index("edge.confirm_gone", "shop.localhost"),
        journal.index("runtime.remove_app", "shop"),
        journal.index("runtime.remove_files", "shop"),
    ]
    assert order == sorted(order)
    # The first edge loaded by the destroy no longer routes the ACTIVE domain.
    assert journal.calls[0] == ("edge.apply", "shop.localhost")
    assert shop.operation(waiting.operation_id).error == SUPERSEDED
    for name in (WWW, NEW):
        assert shop.domain(name).status == "REMOVED"
        assert ("domain.removed", name, "allowed") in shop.audit()
    assert shop.site("shop").status == "DESTROYED"
    assert shop.world.edge.hosts() == []
    assert shop.world.runtime.holds() == {}
    assert journal.count("dns.lookup") == 0  # the superseded addition checked no more


def test_a_site_destroy_waits_for_a_domain_at_work(shop: Plane, points: Failpoints):
    """Providers are fakes. A domain being routed (past DNS) is not stopped: the site's
    destroy is refused (409) naming the domain's operation, and accepted once it is done."""
    shop.world.dns.point(WWW)
    gate = points.hold_at("route.apply.before")
    add = add_domain(shop.services, WWW)
    shop.submit(add)
    gate.wait_reached()
    assert shop.domain(WWW).status == "ROUTING"
    with pytest.raises(ConflictError, match=f"operation {add.operation_id} \\(domain-add\\)"):
        destroy_site(shop.services)
    gate.open()
    assert shop.wait(add.operation_id) == "SUCCEEDED"
    assert shop.run(destroy_site(shop.services)) == "SUCCEEDED"
    assert shop.domain(WWW).status == "REMOVED"


def test_a_domain_whose_route_fails_is_unrouted_and_can_be_added_again(shop: Plane):
    """Providers are fakes. The edge never serves the domain from the site's route: the
    domain leaves the served states (FAILED) before its route is undone, so the
    regenerated edge no longer carries it; added again, it goes through to ACTIVE."""
    shop.world.dns.point(WWW)
    refusal = PermanentError(f"the edge does not serve {WWW} from site-shop", detail="none")
    shop.world.journal.fail("edge.confirm", lambda: refusal, times=1)
    first = add_domain(shop.services, WWW)
    assert shop.run(first) == "FAILED"
    domain = shop.domain(WWW)
    assert (domain.status, domain.last_error) == ("FAILED", str(refusal))
    assert [s[:3] for s in shop.steps(first.operation_id)][-1] == ("route", "undo", "succeeded")
    assert shop.world.edge.hosts() == ["shop.localhost"]

    again = add_domain(shop.services, WWW)
    assert again.operation_id != first.operation_id
    assert shop.run(again) == "SUCCEEDED"
    assert shop.domain(WWW).status == "ACTIVE"
    assert shop.world.edge.serves(WWW)


def test_a_domain_whose_dns_stays_wrong_fails_with_what_was_found(shop: Plane):
    """Providers are fakes. DNS points elsewhere past the configured time: FAILED, and the
    operation's error says what was found against what was expected."""
    shop.settings.domain_dns_timeout = 0
    shop.world.dns.point(WWW, "198.51.100.7")
    sub = add_domain(shop.services, WWW)
    assert shop.run(sub) == "FAILED"
    error = shop.operation(sub.operation_id).error
    assert error == shop.domain(WWW).last_error
    assert "198.51.100.7 is not one of the platform's addresses" in error
    assert error.startswith("DNS still not right after 0 s")
    assert shop.domain(WWW).status == "FAILED"
    assert not shop.world.edge.serves(WWW)


def test_a_dns_check_interrupted_before_its_checkpoint_is_not_repeated(
    shop: Plane, points: Failpoints
):
    """Providers are fakes. The worker dies after the DNS check committed ROUTING but before
    the step's checkpoint: the re-run step finds the verdict in the domain's state and asks
    the resolvers no more; the domain goes on to ACTIVE."""
    shop.world.dns.point(WWW)
    points.crash_at("dns.apply.after")
    sub = add_domain(shop.services, WWW)
    shop.run_until_crash(sub)
    assert shop.domain(WWW).status == "ROUTING"
    shop.restart()
    assert shop.wait(sub.operation_id) == "SUCCEEDED"
    assert shop.world.journal.count("dns.lookup") == 1
    assert shop.domain(WWW).status == "ACTIVE"
