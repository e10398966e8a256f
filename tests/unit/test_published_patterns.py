"""The patterns the API publishes in its schema say exactly what the request rules accept."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hostplane.errors import ValidationError
from hostplane.kinds.site.model import (
    ADMIN_EMAIL_PATTERN,
    RESERVED_SITE_NAMES,
    SITE_NAME_PATTERN,
    validate_admin_email,
    validate_site_name,
)

NAMEISH = st.text(alphabet="abcz019-_.XÄ", min_size=0, max_size=70)


def _accepted(rule, value: str) -> bool:
    try:
        rule(value)
    except ValidationError:
        return False
    return True


@settings(max_examples=500)
@given(
    st.one_of(
        NAMEISH,
        st.sampled_from(sorted(RESERVED_SITE_NAMES)),
        st.from_regex(SITE_NAME_PATTERN, fullmatch=True),
    )
)
def test_the_site_name_pattern_is_the_site_name_rule(name):
    assert bool(re.fullmatch(SITE_NAME_PATTERN, name)) == _accepted(validate_site_name, name)


@pytest.mark.parametrize(
    ("email", "ok"),
    [
        ("me@example.org", True),
        ("first.last+tag@mail.example.co.uk", True),
        ("a@b.cd", True),
        ('a"<b>@x.y', False),  # accepted by a loose pattern, refused by WordPress's install
        ("a@b.c", False),  # shorter than 6
        ("me@localhost", False),  # no dot in the domain
        ("me@-example.org", False),
        ("me@example..org", False),
        ("me@exa mple.org", False),
        ("mé@example.org", False),
    ],
)
def test_admin_emails_are_refused_exactly_when_wordpress_would(email, ok):
    assert (6 <= len(email) <= 254 and bool(re.fullmatch(ADMIN_EMAIL_PATTERN, email))) is ok
    assert _accepted(validate_admin_email, email) is ok
