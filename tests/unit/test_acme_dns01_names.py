"""Where DNS-01 looks (providers/acme/issuer.py): a wildcard and its base name share one
`_acme-challenge` name, and an order's validation values are grouped into one TXT RRset per
challenge name, so both are published together. Pure."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hostplane.providers.acme.issuer import dns01_name, dns01_names, dns01_records


def test_a_wildcard_and_its_base_name_share_the_challenge_name():
    assert dns01_name("*.example.test") == "_acme-challenge.example.test"
    assert dns01_name("example.test") == "_acme-challenge.example.test"
    assert dns01_name("www.example.test") == "_acme-challenge.www.example.test"


def test_challenge_names_are_lowercase_without_the_trailing_dot():
    assert dns01_name("*.Example.TEST.") == "_acme-challenge.example.test"
    assert dns01_name(" www.example.test ") == "_acme-challenge.www.example.test"


def test_names_to_withdraw_are_each_challenge_name_once():
    names = ["*.example.test", "example.test", "www.example.test", "*.example.test"]
    assert dns01_names(names) == [
        "_acme-challenge.example.test",
        "_acme-challenge.www.example.test",
    ]


def test_a_wildcard_and_its_base_name_are_published_in_one_rrset():
    records = dns01_records(
        [("example.test", "v-wild"), ("example.test", "v-base"), ("www.example.test", "v-www")]
    )
    assert records == {
        "_acme-challenge.example.test": ["v-wild", "v-base"],
        "_acme-challenge.www.example.test": ["v-www"],
    }


def test_a_value_given_twice_is_published_once():
    records = dns01_records([("example.test", "v"), ("*.example.test", "v")])
    assert records == {"_acme-challenge.example.test": ["v"]}


def test_nothing_pending_publishes_nothing():
    assert dns01_records([]) == {}


labels = st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True)
domains = st.lists(labels, min_size=2, max_size=4).map(".".join)
names = st.tuples(st.booleans(), domains).map(lambda t: f"*.{t[1]}" if t[0] else t[1])


@given(st.lists(st.tuples(names, st.text(min_size=1, max_size=8)), max_size=12))
def test_every_value_is_published_once_at_its_names_challenge_name(answers):
    records = dns01_records(answers)
    assert sorted(records) == dns01_names(name for name, _ in answers)
    for name, value in answers:
        assert value in records[dns01_name(name)]
    for values in records.values():
        assert len(values) == len(set(values))
