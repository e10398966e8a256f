"""The registrable domain of a name, by the Public Suffix List the package ships (pure)."""

from __future__ import annotations

import pytest

from hostplane.kinds.domain.model import registrable_domain


@pytest.mark.parametrize(
    ("name", "registrable"),
    [
        ("www.example.com", "example.com"),
        ("example.com", "example.com"),
        ("a.b.shop.example.co.uk", "example.co.uk"),
        ("foo.github.io", "foo.github.io"),  # a private suffix counts as public
        ("x.foo.github.io", "foo.github.io"),
        ("www.example.test", "example.test"),  # not on the list: its last label is the suffix
        ("xn--80ak6aa92e.xn--p1ai", "xn--80ak6aa92e.xn--p1ai"),
        ("co.uk", "co.uk"),  # a public suffix is its own
    ],
)
def test_registrable_domain(name: str, registrable: str):
    assert registrable_domain(name) == registrable
