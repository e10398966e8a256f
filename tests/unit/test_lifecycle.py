"""Every allowed and every forbidden transition of every lifecycle."""

from __future__ import annotations

import itertools

import pytest

from hostplane.domain.errors import IllegalTransitionError
from hostplane.domain.lifecycle import (
    DOMAIN_TRANSITIONS,
    NODE_TRANSITIONS,
    SITE_TRANSITIONS,
    DomainStatus,
    NodeStatus,
    SiteStatus,
    check_transition,
)

S, D, N = SiteStatus, DomainStatus, NodeStatus

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
    "node": {
        (N.PROVISIONING, N.INITIALIZING),
        (N.INITIALIZING, N.READY),
        (N.READY, N.ACTIVE),
        (N.ACTIVE, N.IDLE),
        (N.IDLE, N.ACTIVE),
        (N.READY, N.DRAINING),
        (N.ACTIVE, N.DRAINING),
        (N.IDLE, N.DRAINING),
        (N.DRAINING, N.DECOMMISSIONED),
        *(
            (live, N.UNHEALTHY)
            for live in (N.PROVISIONING, N.INITIALIZING, N.READY, N.ACTIVE, N.IDLE, N.DRAINING)
        ),
        *((N.UNHEALTHY, back) for back in (N.INITIALIZING, N.READY, N.ACTIVE, N.IDLE, N.DRAINING)),
    },
}
STATES = {"site": list(S), "domain": list(D), "node": list(N)}
TABLES = {"site": SITE_TRANSITIONS, "domain": DOMAIN_TRANSITIONS, "node": NODE_TRANSITIONS}
ALL_PAIRS = [
    (kind, a, b) for kind, states in STATES.items() for a, b in itertools.product(states, states)
]


@pytest.mark.parametrize(("kind", "current", "target"), ALL_PAIRS, ids=lambda v: str(v))
def test_every_pair_is_allowed_exactly_when_the_design_says(kind, current, target):
    if (current, target) in EXPECTED[kind]:
        check_transition(kind, current, target)
    else:
        with pytest.raises(IllegalTransitionError) as err:
            check_transition(kind, current, target)
        assert str(current) in str(err.value)
        assert str(target) in str(err.value)


@pytest.mark.parametrize("kind", ["site", "domain", "node"])
def test_tables_hold_nothing_beyond_the_design(kind):
    actual = {(a, b) for a, targets in TABLES[kind].items() for b in targets}
    assert actual == EXPECTED[kind]


@pytest.mark.parametrize(
    ("kind", "final"), [("site", S.DESTROYED), ("domain", D.REMOVED), ("node", N.DECOMMISSIONED)]
)
def test_final_states_have_no_way_out(kind, final):
    assert not TABLES[kind][final]


def test_unknown_kind_or_status_is_refused():
    with pytest.raises(IllegalTransitionError):
        check_transition("tenant", "pending", "active")
    with pytest.raises(IllegalTransitionError):
        check_transition("site", "BOGUS", "ACTIVE")
    with pytest.raises(IllegalTransitionError):
        check_transition("site", "ACTIVE", "BOGUS")
