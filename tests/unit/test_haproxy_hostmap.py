"""The edge's host map: derived whole from the edge state, diffed into runtime commands."""

from __future__ import annotations

import pytest

from hostplane.errors import ValidationError
from hostplane.providers.edge import SUSPENDED, AcmeChallenge, EdgeRoute, EdgeState
from hostplane.providers.haproxy.hostmap import (
    MARKER,
    MapChange,
    challenge_map,
    diff,
    host_map,
    parse_show_map,
    render_file,
    render_shown,
    slice_diff,
)
from hostplane.providers.runtime import FastCGI, HTTPProxy, StaticFiles


def _state(*routes: EdgeRoute) -> EdgeState:
    return EdgeState(routes)


def test_every_host_of_every_route_gets_its_route_and_upstream():
    entries = host_map(
        _state(
            EdgeRoute("site-a", ("a.example.test", "WWW.Shop.TEST."), StaticFiles("/srv/a")),
            EdgeRoute("site-b", ("b.example.test",), FastCGI("/srv/b", "unix//run/b.sock")),
            EdgeRoute("site-c", ("c.example.test",), HTTPProxy("10.0.0.3:80")),
        )
    )
    assert entries == {
        "a.example.test": "site-a|static|/srv/a|-|-",
        "www.shop.test": "site-a|static|/srv/a|-|-",
        "b.example.test": "site-b|php|/srv/b|unix//run/b.sock|-",
        "c.example.test": "site-c|proxy|-|10.0.0.3:80|-",
    }


def test_flags_say_maintenance_suspension_and_guarded_installer():
    guarded = EdgeRoute(
        "site-w", ("w.test",), StaticFiles("/srv/w"), denied_paths=("/wp-admin/install.php",)
    )
    down = EdgeRoute("site-m", ("m.test",), StaticFiles("/srv/m"), maintenance=True)
    suspended = EdgeRoute(
        "site-s",
        ("s.test",),
        StaticFiles("/srv/s"),
        maintenance=True,
        maintenance_reason=SUSPENDED,
    )
    entries = host_map(_state(guarded, down, suspended))
    assert entries["w.test"].endswith("|g")
    assert entries["m.test"].endswith("|m")
    assert entries["s.test"].endswith("|s")


def test_a_host_on_two_routes_is_refused():
    with pytest.raises(ValidationError, match="routed twice"):
        host_map(
            _state(
                EdgeRoute("site-a", ("x.test",), StaticFiles("/srv/a")),
                EdgeRoute("site-b", ("x.test",), StaticFiles("/srv/b")),
            )
        )


@pytest.mark.parametrize("root", ["/srv/a b", "/srv/a|b", "/srv/#a"])
def test_a_field_that_would_break_the_map_line_is_refused(root):
    with pytest.raises(ValidationError, match="cannot go in the host map"):
        host_map(_state(EdgeRoute("site-a", ("a.test",), StaticFiles(root))))


@pytest.mark.parametrize("host", ["a b.test", "a/b.test", "-a.test", ""])
def test_a_host_that_is_no_hostname_is_refused(host):
    with pytest.raises(ValidationError, match="not a host"):
        host_map(_state(EdgeRoute("site-a", (host,), StaticFiles("/srv/a"))))


def test_the_file_is_whole_sorted_and_marked():
    text = render_file({"b.test": "site-b|static|/b|-|-", "a.test": "site-a|static|/a|-|-"})
    assert text.splitlines() == [
        MARKER,
        "a.test site-a|static|/a|-|-",
        "b.test site-b|static|/b|-|-",
    ]


def test_show_map_is_parsed_back():
    answer = "0x55d0f1a2b3c0 a.test site-a|static|/a|-|-\n0x55d0f1a2b400 b.test v\n\n"
    assert parse_show_map(answer) == {"a.test": "site-a|static|/a|-|-", "b.test": "v"}


def test_the_file_from_show_map_is_the_file_of_its_entries():
    answer = "0x1 b.test site-b|static|/b|-|-\n0x2 a.b.test v\n0x3 a.test site-a|php|/a|u|m\n\n"
    assert render_shown(answer) == render_file(parse_show_map(answer))
    assert render_shown("") == render_file({})


def test_a_slice_deletes_only_its_own_hosts():
    """site-b gives up www.b.test and names a.test, which site-a holds: a.test is not its."""
    observed = {"b.test": "site-b|1", "www.b.test": "site-b|1", "a.test": "site-a|1"}
    desired = {"b.test": "site-b|2", "shop.test": "site-b|2"}
    assert slice_diff("site-b", desired, observed) == [
        MapChange("add", "shop.test", "site-b|2"),
        MapChange("set", "b.test", "site-b|2"),
        MapChange("del", "www.b.test"),
    ]
    # A host it wants that another route still holds is taken over (the database says so).
    assert slice_diff("site-b", {"a.test": "site-b|2"}, {"a.test": "site-a|1"}) == [
        MapChange("set", "a.test", "site-b|2")
    ]


def test_diff_adds_sets_and_deletes_only_what_differs():
    observed = {"a.test": "1", "b.test": "2", "gone.test": "3"}
    desired = {"a.test": "1", "b.test": "20", "new.test": "4"}
    assert diff(desired, observed) == [
        MapChange("add", "new.test", "4"),
        MapChange("set", "b.test", "20"),
        MapChange("del", "gone.test"),
    ]
    assert diff(desired, desired) == []


def test_commands_name_the_map_file():
    assert MapChange("add", "a.test", "v").command("/m") == "add map /m a.test v"
    assert MapChange("del", "a.test").command("/m") == "del map /m a.test"


def test_challenges_are_keyed_by_host_and_path():
    state = EdgeState((), challenges=(AcmeChallenge("Shop.Test", "tok", "tok.thumb"),))
    assert challenge_map(state) == {"shop.test/.well-known/acme-challenge/tok": "tok.thumb"}
    with pytest.raises(ValidationError, match="malformed"):
        challenge_map(EdgeState((), challenges=(AcmeChallenge("a.test", "t k", "v"),)))
