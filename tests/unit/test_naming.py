"""Site names and every name derived from them, for arbitrary valid site names."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostplane import naming
from hostplane.errors import ValidationError
from hostplane.kinds.site.model import RESERVED_SITE_NAMES, validate_site_name

LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
MYSQL_IDENT = re.compile(r"^[a-z0-9_]{1,64}$")
UNIX_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
DOCKER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

site_names = st.from_regex(LABEL, fullmatch=True).filter(
    lambda n: n not in RESERVED_SITE_NAMES and not n.startswith("xn--")
)
long_names = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=61, max_size=61).map(
    lambda mid: f"a{mid}z"
)


@given(st.one_of(site_names, long_names))
def test_derived_names_are_valid_for_their_systems(site):
    assert validate_site_name(site) == site
    assert MYSQL_IDENT.fullmatch(naming.site_database(site))
    assert len(naming.site_database(site)) <= naming.MYSQL_IDENTIFIER_MAX
    user = naming.site_database_user(site)
    assert MYSQL_IDENT.fullmatch(user) and len(user) <= naming.MYSQL_USER_MAX
    assert UNIX_USER.fullmatch(naming.site_system_user(site))
    for name in (naming.php_container(site), naming.web_container(site), naming.site_volume(site)):
        assert DOCKER_NAME.fullmatch(name) and len(name) <= 128
    assert LABEL.fullmatch(naming.site_dir(site))
    assert len(naming.site_hostname(site, "localhost")) <= 253


@given(st.one_of(site_names, long_names), st.one_of(site_names, long_names))
def test_shortened_names_stay_unique(a, b):
    if a != b:
        assert naming.site_database(a) != naming.site_database(b)
        assert naming.site_database_user(a) != naming.site_database_user(b)
        assert naming.site_system_user(a) != naming.site_system_user(b)


def test_a_63_character_name_overflows_without_shortening_and_fits_with_it():
    site = "a" * 63
    assert len("wp_" + site) > naming.MYSQL_IDENTIFIER_MAX
    assert len(naming.site_database(site)) == naming.MYSQL_IDENTIFIER_MAX


@given(st.text(max_size=80))
def test_anything_accepted_is_a_dns_label(raw):
    try:
        name = validate_site_name(raw)
    except ValidationError:
        return
    assert LABEL.fullmatch(name) and name not in RESERVED_SITE_NAMES


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("", "empty"),
        ("a" * 64, "64 characters"),
        ("Hello", "uppercase"),
        ("-a", "DNS label"),
        ("a-", "DNS label"),
        ("a_b", "DNS label"),
        ("a.b", "DNS label"),
        ("www", "reserved"),
        ("xn--abc", "reserved"),
    ],
)
def test_bad_names_say_what_to_fix(raw, says):
    with pytest.raises(ValidationError, match=says):
        validate_site_name(raw)
