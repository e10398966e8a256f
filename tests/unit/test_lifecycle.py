"""Every allowed and every forbidden transition of every lifecycle."""

from __future__ import annotations

import itertools

import pytest

from hostplane.errors import IllegalTransitionError
from hostplane.kernel.lifecycle import RESOURCE_TRANSITIONS, Lifecycle, ResourceStatus
from hostplane.kinds.domain.model import LIFECYCLE as DOMAIN
from hostplane.kinds.domain.model import DomainStatus
from hostplane.kinds.site.model import LIFECYCLE as SITE
from hostplane.kinds.site.model import SiteStatus
from hostplane.kinds.tenant.model import LIFECYCLE as TENANT
from hostplane.kinds.tenant.model import TenantStatus

S, D, T = SiteStatus, DomainStatus, TenantStatus

EXPECTED = {
    "site": {
        (S.CREATED, S.PROVISIONING),
        (S.PROVISIONING, S.ACTIVE),
        (S.PROVISIONING, S.FAILED),
        (S.ACTIVE, S.DESTROYING),
        (S.DESTROYING, S.DESTROYED),
        (S.DESTROYING, S.FAILED),
        (S.FAILED, S.PROVISIONING),
        (S.FAILED, S.DESTROYING),
    },
    "domain": {
        (D.PENDING, D.VALIDATING),
        (D.VALIDATING, D.ROUTING),
        (D.VALIDATING, D.PENDING),
        (D.ROUTING, D.ACTIVE),
        (D.ACTIVE, D.REMOVING),
        (D.REMOVING, D.REMOVED),
        (D.PENDING, D.REMOVING),
        (D.FAILED, D.PENDING),
        (D.FAILED, D.REMOVING),
        *((live, D.FAILED) for live in (D.PENDING, D.VALIDATING, D.ROUTING, D.ACTIVE, D.REMOVING)),
    },
    "tenant": {
        (T.PENDING, T.PROVISIONING),
        (T.PROVISIONING, T.ACTIVE),
        (T.PROVISIONING, T.FAILED),
        (T.PROVISIONING, T.DELETING),  # made for a site whose create failed before its account
        (T.ACTIVE, T.SUSPENDED),
        (T.SUSPENDED, T.ACTIVE),
        (T.ACTIVE, T.DELETING),
        (T.SUSPENDED, T.DELETING),
        (T.DELETING, T.DELETED),
        (T.DELETING, T.FAILED),
        (T.FAILED, T.PROVISIONING),
        (T.FAILED, T.DELETING),
    },
}
STATES = {"site": list(S), "domain": list(D), "tenant": list(T)}
LIFECYCLES = {"site": SITE, "domain": DOMAIN, "tenant": TENANT}
ALL_PAIRS = [
    (kind, a, b) for kind, states in STATES.items() for a, b in itertools.product(states, states)
]


@pytest.mark.parametrize(("kind", "current", "target"), ALL_PAIRS, ids=lambda v: str(v))
def test_every_pair_is_allowed_exactly_when_the_design_says(kind, current, target):
    if (current, target) in EXPECTED[kind]:
        LIFECYCLES[kind].check(current, target)
    else:
        with pytest.raises(IllegalTransitionError) as err:
            LIFECYCLES[kind].check(current, target)
        assert str(current) in str(err.value)
        assert str(target) in str(err.value)


@pytest.mark.parametrize("kind", ["site", "domain", "tenant"])
def test_tables_hold_nothing_beyond_the_design(kind):
    actual = {(a, b) for a, targets in LIFECYCLES[kind].table.items() for b in targets}
    assert actual == EXPECTED[kind]


@pytest.mark.parametrize(("kind", "final"), [("site", S.DESTROYED), ("domain", D.REMOVED)])
def test_final_states_have_no_way_out(kind, final):
    assert LIFECYCLES[kind].final == {final}


def test_unknown_status_is_refused():
    with pytest.raises(IllegalTransitionError, match="BOGUS"):
        SITE.check("BOGUS", "ACTIVE")
    with pytest.raises(IllegalTransitionError, match="BOGUS"):
        SITE.check("ACTIVE", "BOGUS")


def test_a_path_takes_the_fewest_moves_and_never_one_it_must_avoid():
    lifecycle = Lifecycle("resource", RESOURCE_TRANSITIONS)
    r = ResourceStatus
    never_served = frozenset({r.ACTIVE})
    assert lifecycle.path(r.ACTIVE, r.DELETED) == (r.DELETING, r.DELETED)
    assert lifecycle.path(r.PENDING, r.DELETED, never_served) == (
        r.PROVISIONING,
        r.FAILED,
        r.DELETING,
        r.DELETED,
    )
    assert lifecycle.path(r.PROVISIONING, r.DELETING, never_served) == (r.FAILED, r.DELETING)
    assert lifecycle.path(r.DELETED, r.DELETED) == ()
    with pytest.raises(IllegalTransitionError, match="cannot reach PENDING from DELETED"):
        lifecycle.path(r.DELETED, r.PENDING)
    with pytest.raises(IllegalTransitionError):
        lifecycle.path(r.PENDING, r.ACTIVE, never_served)
    for start, end in itertools.product(r, r):  # every step of every path is an allowed move
        try:
            steps = lifecycle.path(start, end)
        except IllegalTransitionError:
            continue
        for before, after in itertools.pairwise((start, *steps)):
            lifecycle.check(before, after)
