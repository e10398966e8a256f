"""The state database failing for a moment (a dropped connection, a failover) while the
kernel moves an operation: the operation still ends and its target's slot is freed, instead
of the workflow ending in error with the operation held for good (every later request on the
target a 409).

Providers are fakes; the state database is the real SQLite store, made to refuse one write
of the kernel's (the one fault this tier injects below the providers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from hostplane.errors import PermanentError
from hostplane.kernel.store import repos
from hostplane.kinds.site.lifecycle import SiteSaga
from tests.inprocess.helpers import add_domain, create_site, destroy_site
from tests.inprocess.plane import Plane


def blink_once(monkeypatch: pytest.MonkeyPatch, owner: type, name: str) -> list[int]:
    """`owner.name` fails once as a dropped connection does, then works; the count of its
    calls."""
    real: Callable[..., Any] = getattr(owner, name)
    calls: list[int] = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise sa.exc.OperationalError(name, {}, Exception("server closed the connection"))
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, flaky)
    return calls


def test_an_operation_ends_though_the_database_blinked_at_its_finish(
    plane: Plane, monkeypatch: pytest.MonkeyPatch
):
    """Providers are fakes. Writing the operation's end fails once: the kernel's finish
    step is tried again; SUCCEEDED, the site ACTIVE, and it takes its next request."""
    calls = blink_once(monkeypatch, repos.OperationRepository, "finish")
    sub = create_site(plane.services).submitted
    assert plane.run(sub) == "SUCCEEDED"
    assert len(calls) == 2
    op = plane.operation(sub.operation_id)
    assert (op.status, op.active_target) == ("SUCCEEDED", None)
    assert plane.site("shop").status == "ACTIVE"
    assert plane.run(destroy_site(plane.services)) == "SUCCEEDED"


def test_a_compensation_goes_on_though_the_database_blinked_as_it_began(
    plane: Plane, monkeypatch: pytest.MonkeyPatch
):
    """Providers are fakes. The transaction that marks the operation COMPENSATING fails
    once: tried again, the undo runs and the operation ends FAILED with the step's error."""
    calls = blink_once(monkeypatch, SiteSaga, "failed")
    plane.world.journal.fail("edge.confirm", lambda: PermanentError("not served"))
    sub = create_site(plane.services).submitted
    assert plane.run(sub) == "FAILED"
    assert len(calls) == 2
    assert plane.operation(sub.operation_id).error == "not served"
    assert plane.world.runtime.holds() == {}


def test_a_domain_goes_on_though_the_database_blinked_at_its_dns_check(
    plane: Plane, monkeypatch: pytest.MonkeyPatch
):
    """Providers are fakes. The DNS check's record cannot be opened once: the check is
    tried again and the domain goes on to ACTIVE."""
    assert plane.run(create_site(plane.services).submitted) == "SUCCEEDED"
    plane.world.dns.point("www.shop.example")
    calls = blink_once(monkeypatch, repos.OperationRepository, "start_step")
    sub = add_domain(plane.services, "www.shop.example")
    assert plane.run(sub) == "SUCCEEDED"
    assert len(calls) >= 2
    assert plane.domain("www.shop.example").status == "ACTIVE"
